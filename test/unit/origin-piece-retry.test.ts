import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { UpstreamUnreachableError } from '../../src/errors.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import { fetchPiece } from '../../src/task/origin-download.js'
import { Task } from '../../src/task/task.js'
import { contentOf, fakeOrigin, sha256Hex, storedBytes, taskMetaOf } from '../helpers/task-fakes.js'

const KiB = 1024
const pieceSize = 256 * KiB

/**
 * Seen in a swarm benchmark: the origin's connection closed after the last byte of a piece had
 * arrived, and the retry asked for the empty range "start-(start - 1)", which the origin cannot
 * answer: the piece failed for good and its bytes were fetched again elsewhere.
 */
describe('an origin piece whose connection fails after its last byte', () => {
  it('completes from the bytes it has, without asking for an empty range', async () => {
    const content = contentOf(3 * pieceSize)
    const origin = fakeOrigin(content)
    const ranges: Array<[number, number]> = []
    let failures = 0
    const readRange = origin.readRange
    const flaky: typeof origin = {
      ...origin,
      readRange: async (source, start, end, length, sink, signal) => {
        ranges.push([start, end])
        if (start > end) throw new Error(`an empty range was asked for: ${start}-${end}`)
        await readRange(source, start, end, length, sink, signal)
        if (failures++ === 0) throw new UpstreamUnreachableError('other side closed')
      },
      retrying: async (_signal, attempt) => {
        for (let tries = 1; ; tries++) {
          try {
            return await attempt()
          } catch (error) {
            if (tries >= 3) throw error
          }
        }
      }
    }
    const store = new MemoryTaskStore()
    const meta = taskMetaOf(content, pieceSize, { blockSize: 64 * KiB })
    const task = new Task(meta)
    const file = await store.create(meta)
    const landed: number[] = []
    await fetchPiece({ origin: flaky }, { task, file, source: () => ({ url: 'http://origin.invalid/f', headers: {} }), onPiece: (index) => { landed.push(index) } }, 1, AbortSignal.timeout(10_000))
    assert.deepEqual(ranges, [[pieceSize, 2 * pieceSize - 1]])
    assert.deepEqual(landed, [1])
    assert.equal(task.bitmap.has(1), true)
    const stored = await storedBytes(store, task.id, content.length)
    assert.equal(sha256Hex(stored.subarray(pieceSize, 2 * pieceSize)), sha256Hex(content.subarray(pieceSize, 2 * pieceSize)))
  })
})
