import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PreheatError } from '../../src/errors.js'
import type { TaskMetadata } from '../../src/p2p/messages.js'
import { warmTask, type WarmTaskComponents } from '../../src/preheat/warm-task.js'
import { Bitmap } from '../../src/storage/bitmap.js'
import { parseTaskKey } from '../../src/task/task-key.js'

const pieces = 64
const pieceSize = 1024
const key = parseTaskKey(`sha256:${'ab'.repeat(32)}`)

function metaHolding (count: number): TaskMetadata {
  const bitmap = new Bitmap(pieces)
  for (let piece = 0; piece < count; piece++) bitmap.set(piece)
  return { task: key.id, key: key.key, length: pieces * pieceSize, pieceSize, headers: {}, bitmap: bitmap.toBase64(), digests: [], complete: count === pieces }
}

/** Two seeds: `first` holds every piece at once, the other gains one more each time `copy` says so. */
function twoSeeds (copy: () => boolean): WarmTaskComponents {
  let copied = 0
  return {
    swarm: {
      peerId: 'this-node',
      liveSeeds: async () => ['seed-a', 'seed-b'],
      fetchFromSeed: async () => ({ ok: true, meta: metaHolding(0) }),
      meta: async (peer) => {
        if (peer === 'seed-a') return metaHolding(pieces)
        if (copy() && copied < pieces) copied++
        return metaHolding(copied)
      }
    },
    tasks: {
      acquire: async () => { throw new Error('this node is no seed') },
      fetchForPeer: async () => { throw new Error('this node is no seed') },
      metadata: () => undefined
    }
  }
}

describe('warming a file on the seeds', () => {
  it('is no stall while one seed still copies from the other, every byte already on the first', async () => {
    let asked = 0
    // The second seed gains a piece every other poll (~20 ms apart, well inside the stall limit),
    // and takes ~1.3 s in all: far longer than the limit, during which the bytes held between
    // the two seeds never change.
    const components = twoSeeds(() => ++asked % 2 === 0)
    const held = await warmTask(components, { key, url: 'http://cdn.test/f', onProgress: () => {}, pollMs: 10, stallMs: 300, seedWaitMs: 0 }, AbortSignal.timeout(10_000))
    assert.deepEqual(held.sort(), ['seed-a', 'seed-b'])
  })

  it('fails when no seed gains a piece for the stall limit', async () => {
    const components = twoSeeds(() => false)
    await assert.rejects(
      warmTask(components, { key, url: 'http://cdn.test/f', onProgress: () => {}, pollMs: 10, stallMs: 300, seedWaitMs: 0 }, AbortSignal.timeout(10_000)),
      (error: unknown) => error instanceof PreheatError && /gained no byte of the file for 0 s/.test(error.message)
    )
  })
})
