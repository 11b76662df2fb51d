import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { silentLogger } from '../../src/logging/logger.js'
import type { HaveListener } from '../../src/p2p/swarm.js'
import { PeerScores } from '../../src/scheduling/peer-scores.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import { SwarmDownload, type SwarmDownloadComponents, type SwarmDownloadInit } from '../../src/task/swarm-download.js'
import { Task } from '../../src/task/task.js'
import { contentOf, fakeOrigin, fakeSwarm, holderMeta, sha256Hex, storedBytes, taskMetaOf, type FakeOrigin, type FakeSwarm } from '../helpers/task-fakes.js'
import { waitFor } from '../helpers/wait.js'

const KiB = 1024
const pieceSize = 128 * KiB
const pieces = 16
const content = contentOf(pieces * pieceSize)
const all = Array.from({ length: pieces }, (_, index) => index)

interface Run {
  origin: FakeOrigin
  swarm: FakeSwarm
  store: MemoryTaskStore
  task: Task
  done: Promise<void>
}

/**
 * The swarm download (swarm-download.ts) over in-memory holders and a fake origin, with the
 * origin fallback as the node runs it. `stallMs` is long everywhere: the old fixed stall rule
 * would not have gone to the origin within any of these tests.
 */
async function download (swarm: FakeSwarm, init: Partial<SwarmDownloadInit> = {}): Promise<Run> {
  const origin = fakeOrigin(content)
  const store = new MemoryTaskStore()
  const meta = taskMetaOf(content, pieceSize, { blockSize: pieceSize })
  const task = new Task(meta)
  const file = await store.create(meta)
  const components: SwarmDownloadComponents = { origin, swarm, scores: new PeerScores(), logger: silentLogger }
  const holders = await swarm.findHolders(task.id, AbortSignal.timeout(1000))
  const done = new SwarmDownload(components, {
    task,
    file,
    source: () => ({ url: 'http://origin.invalid/f', headers: {} }),
    originConcurrency: 2,
    originPlan: 'none',
    backToSource: true,
    stallMs: 120_000,
    holders,
    onPiece: () => {},
    signal: AbortSignal.timeout(60_000),
    ...init
  }).run().finally(async () => { await file.close() })
  return { origin, swarm, store, task, done }
}

async function assertByteExact (run: Run): Promise<void> {
  assert.equal(sha256Hex(await storedBytes(run.store, run.task.id, content.length)), sha256Hex(content))
}

/** A holder of the whole file that answers each request only after `ms`. */
function slowSwarm (ms: number): FakeSwarm {
  const swarm = fakeSwarm({ holders: [{ peer: 'slow', meta: holderMeta(content, pieceSize), content }] })
  const block = swarm.block.bind(swarm)
  swarm.block = async (peer, request, signal) => {
    await delay(ms, undefined, { signal })
    return await block(peer, request, signal)
  }
  return swarm
}

describe('the swarm download\'s origin fallback (fake swarm)', () => {
  it('leaves a healthy swarm alone: every byte from the holder, none from the origin', { timeout: 30_000 }, async () => {
    const run = await download(fakeSwarm({ holders: [{ peer: 'fast', meta: holderMeta(content, pieceSize), content }] }))
    await run.done
    await assertByteExact(run)
    assert.equal(run.origin.bytesServed, 0)
    assert.equal(run.swarm.blocksFrom.get('fast'), pieces)
  })

  it('goes to the origin for a silent swarm after about one piece\'s origin time, not after stallMs', { timeout: 30_000 }, async () => {
    // No holder at all; the origin is known fast (100 MB/s a connection), so the patience is its
    // least, 1 s; stallMs is 120 s and the test's timeout 30 s.
    const run = await download(fakeSwarm(), { originConnectionBytesPerMs: 100_000 })
    await run.done
    await assertByteExact(run)
    assert.equal(run.origin.bytesServed, content.length, 'each piece once from the origin')
  })

  it('takes from the origin the pieces whose only holder is far slower than the origin', { timeout: 30_000 }, async () => {
    // 128 KiB per 400 ms is ~330 B/ms a piece, against 2 × 100,000 B/ms from the origin.
    const run = await download(slowSwarm(400), { originConnectionBytesPerMs: 100_000 })
    await run.done
    await assertByteExact(run)
    const fromHolder = run.swarm.blocksFrom.get('slow') ?? 0
    assert.ok(run.origin.bytesServed >= pieceSize, `origin served ${run.origin.bytesServed} bytes`)
    assert.ok(run.origin.bytesServed <= content.length, 'no piece twice from the origin')
    assert.ok(fromHolder >= 1 && fromHolder < pieces, `${fromHolder} pieces from the slow holder`)
  })

  it('with back-to-source off, waits for the slow holder and never asks the origin', { timeout: 30_000 }, async () => {
    const run = await download(slowSwarm(50), { originConnectionBytesPerMs: 100_000, backToSource: false })
    await run.done
    await assertByteExact(run)
    assert.equal(run.origin.bytesServed, 0)
    assert.equal(run.swarm.blocksFrom.get('slow'), pieces)
  })

  it('leaves a live elected seed\'s share to it: no origin for pieces it will fetch, however long the swarm is silent', { timeout: 30_000 }, async () => {
    // Two elected seeds, connected, holding nothing yet; this node is neither.
    const seeds = ['seed-a', 'seed-b'].map(peer => ({ peer, meta: holderMeta(content, pieceSize, []), content }))
    const swarm = fakeSwarm({ holders: seeds })
    let listener: HaveListener | undefined
    swarm.onHave = (_task, added) => { listener = added; return () => { listener = undefined } }
    let looks = 0
    const connectedPeers = swarm.connectedPeers.bind(swarm)
    swarm.connectedPeers = () => { looks++; return connectedPeers() }
    const run = await download(swarm, { elected: ['seed-a', 'seed-b'], partners: ['seed-a', 'seed-b'] })
    // Each tick (1 s) looks at the connections once: after three, the swarm was silent for more
    // than the patience the origin's default rate gives (its least, 1 s, for 128 KiB pieces).
    await waitFor('three ticks', () => looks >= 4)
    assert.equal(run.origin.bytesServed, 0, 'the origin was asked for a live seed\'s pieces')
    // The seeds fetched their shares: they hold everything and say so.
    for (const seed of seeds) Object.assign(seed.meta, holderMeta(content, pieceSize))
    const full = holderMeta(content, pieceSize)
    for (const seed of seeds) listener?.(seed.peer, { type: 'have', task: run.task.id, pieces: all, digests: full.digests.map(digest => digest ?? '') })
    await run.done
    await assertByteExact(run)
    assert.equal(run.origin.bytesServed, 0)
  })
})
