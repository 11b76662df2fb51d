/**
 * The endgame as the swarm download runs it (swarm-download.ts over in-memory holders): a late
 * piece is asked of a faster holder, and once it lands the losing request is given up at once;
 * what still arrives for it is counted as wasted (damselfly_peer_bytes_wasted_total), never
 * written over the verified piece.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { silentLogger } from '../../src/logging/logger.js'
import type { HaveListener } from '../../src/p2p/swarm.js'
import type { ReceivedBlock } from '../../src/p2p/piece-protocol.js'
import { Uint8ArrayList } from 'uint8arraylist'
import type { WastedReason } from '../../src/metrics/metrics.js'
import { PeerScores } from '../../src/scheduling/peer-scores.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import { SwarmDownload, type SwarmDownloadComponents } from '../../src/task/swarm-download.js'
import { Task } from '../../src/task/task.js'
import { contentOf, fakeOrigin, fakeSwarm, holderMeta, sha256Hex, storedBytes, taskMetaOf } from '../helpers/task-fakes.js'
import { waitFor } from '../helpers/wait.js'

const MiB = 2 ** 20
const pieceSize = 2 * MiB
const pieces = 16
const content = contentOf(pieces * pieceSize)
const range = (start: number, end: number): number[] => Array.from({ length: end - start }, (_, offset) => start + offset)

/** Resolves when `signal` aborts (then the caller throws), or never. */
async function untilAborted (signal: AbortSignal): Promise<never> {
  return await new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
  })
}

interface EndgameRun {
  task: Task
  store: MemoryTaskStore
  swarm: ReturnType<typeof fakeSwarm>
  done: Promise<void>
  wasted: Map<WastedReason, number>
  slowAsked: number
  /** Lets the holder of piece 14 answer. */
  releaseHold: () => void
}

/**
 * 16 pieces of 2 MiB (one block each): `a` holds 0-13, `hold` 14 (answered when the test says),
 * `slow` 15 (measured at 10 bytes/ms: 3.5 min a piece), answered by `slowAnswer`; `fast` (1 MB/ms)
 * holds nothing until it announces 15, the moment the slow holder is asked for it.
 */
async function endgameRun (slowAnswer: (run: EndgameRun, signal: AbortSignal) => Promise<ReceivedBlock | undefined>): Promise<EndgameRun> {
  const fastMeta = holderMeta(content, pieceSize, [])
  const swarm = fakeSwarm({
    holders: [
      { peer: 'a', meta: holderMeta(content, pieceSize, range(0, 14)), content },
      { peer: 'hold', meta: holderMeta(content, pieceSize, [14]), content },
      { peer: 'slow', meta: holderMeta(content, pieceSize, [15]), content },
      { peer: 'fast', meta: fastMeta, content }
    ]
  })
  let haveListener: HaveListener | undefined
  swarm.onHave = (_task, listener) => { haveListener = listener; return () => { haveListener = undefined } }
  let releaseHold!: () => void
  const holdGate = new Promise<void>(resolve => { releaseHold = resolve })
  const store = new MemoryTaskStore()
  const meta = taskMetaOf(content, pieceSize, { blockSize: MiB })
  const task = new Task(meta)
  const wasted = new Map<WastedReason, number>()
  const metrics: SwarmDownloadComponents['metrics'] = {
    pieceFetched: () => {},
    peerBytesWasted: (reason, bytes) => { wasted.set(reason, (wasted.get(reason) ?? 0) + bytes) }
  }
  const run: EndgameRun = { task, store, swarm, wasted, slowAsked: 0, releaseHold, done: Promise.resolve() }
  const serve = swarm.block.bind(swarm)
  swarm.block = async (peer, request, signal) => {
    if (peer === 'hold') await Promise.race([holdGate, untilAborted(signal)])
    if (peer !== 'slow') return await serve(peer, request, signal)
    run.slowAsked++
    Object.assign(fastMeta, holderMeta(content, pieceSize, [15]))
    haveListener?.('fast', { type: 'have', task: task.id, pieces: [15], digests: [fastMeta.digests[15]!] })
    return await slowAnswer(run, signal)
  }
  const scores = new PeerScores()
  scores.completed('slow', pieceSize, pieceSize / 10)
  for (const peer of ['a', 'hold', 'fast']) scores.completed(peer, pieceSize, 2)
  const file = await store.create(meta)
  const holders = await swarm.findHolders(task.id, AbortSignal.timeout(1000))
  run.done = new SwarmDownload({ origin: fakeOrigin(content), swarm, scores, logger: silentLogger, metrics }, {
    task,
    file,
    source: () => undefined,
    originConcurrency: 1,
    originPlan: 'none',
    backToSource: false,
    stallMs: 120_000,
    holders,
    onPiece: () => {},
    signal: AbortSignal.timeout(60_000)
  }).run().finally(async () => { await file.close() })
  return run
}

async function assertByteExact (run: EndgameRun): Promise<void> {
  assert.equal(sha256Hex(await storedBytes(run.store, run.task.id, content.length)), sha256Hex(content))
}

describe('the swarm download\'s endgame (fake swarm)', () => {
  it('asks an idle fast holder for the piece a slow holder is late with, and stops the slow request once it lands', { timeout: 30_000 }, async () => {
    let slowGaveUp: { pieceFourteenHeld: boolean } | undefined
    const run = await endgameRun(async (run, signal) => {
      try {
        return await untilAborted(signal)
      } finally {
        slowGaveUp = { pieceFourteenHeld: run.task.bitmap.has(14) }
      }
    })
    // The block timeout is 30 s: only a cancel ends the slow request this soon.
    const gaveUp = await waitFor('the slow request to be given up', () => slowGaveUp, 15_000)
    assert.ok(run.task.bitmap.has(15), 'piece 15 landed from the fast holder')
    assert.equal(gaveUp.pieceFourteenHeld, false, 'stopped when piece 15 landed, not when the download ended')
    run.releaseHold()
    await run.done
    await assertByteExact(run)
    assert.equal(run.slowAsked, 1)
    assert.equal(run.swarm.blocksFrom.get('fast'), 1, 'the fast holder sent piece 15 once')
    assert.deepEqual(Object.fromEntries(run.wasted), {}, 'nothing arrived from the slow holder')
  })

  it('a block that arrives after its piece landed elsewhere is not written over it, and is counted as a wasted duplicate', { timeout: 30_000 }, async () => {
    // The slow holder's answer was already on its way: it arrives (as zeros) once 15 landed.
    const run = await endgameRun(async (run) => {
      await waitFor('piece 15 from the fast holder', () => run.task.bitmap.has(15), 15_000)
      return { data: new Uint8ArrayList(Buffer.alloc(pieceSize)) }
    })
    await waitFor('the slow answer to be counted', () => run.wasted.size > 0, 15_000)
    run.releaseHold()
    await run.done
    await assertByteExact(run)
    assert.deepEqual(Object.fromEntries(run.wasted), { duplicate: pieceSize })
  })
})
