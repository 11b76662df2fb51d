import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { IntegrityError } from '../../src/errors.js'
import { silentLogger } from '../../src/logging/logger.js'
import { PeerScores } from '../../src/scheduling/peer-scores.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import { DownloadRun, type DownloadRunComponents } from '../../src/task/download-run.js'
import { Task } from '../../src/task/task.js'
import { contentOf, countedReads as counted, fakeOrigin, fakeSwarm, holderMeta, sha256Hex, storedBytes, taskMetaOf } from '../helpers/task-fakes.js'

const KiB = 1024
const pieceSize = 128 * KiB

/** One task's download (download-run.ts) over in-memory holders, a fake origin and a memory store. */
describe('a download run from two holders of half the file each', () => {
  it('finishes byte-exact, verified and checkpointed, with no byte from the origin', async () => {
    const content = contentOf(8 * pieceSize + 4321)
    const pieces = Array.from({ length: 9 }, (_, index) => index)
    const holders = [
      { peer: 'even', meta: holderMeta(content, pieceSize, pieces.filter(index => index % 2 === 0)), content },
      { peer: 'odd', meta: holderMeta(content, pieceSize, pieces.filter(index => index % 2 === 1)), content }
    ]
    const swarm = fakeSwarm({ holders })
    const origin = fakeOrigin(content)
    const store = new MemoryTaskStore()
    const meta = taskMetaOf(content, pieceSize, { blockSize: pieceSize })
    const task = new Task(meta)
    const file = await store.create(meta)
    const cleared: string[] = []
    const condemned: IntegrityError[] = []
    const quarantine: DownloadRunComponents['quarantine'] = {
      cleared: (id) => { cleared.push(id) },
      condemn: (_task, error) => { condemned.push(error) },
      moveAside: async () => {}
    }
    let ended = false
    const run = new DownloadRun({ origin, swarm, scores: new PeerScores(), store, quarantine, logger: silentLogger }, {
      task,
      file,
      source: { url: 'http://origin.invalid/f', headers: {} },
      plan: { holders: holders.map(({ peer, meta }) => ({ peer, meta })), origin: () => 'none' },
      concurrency: 2,
      backToSource: false,
      checkpointIntervalMs: 10,
      onEnd: () => { ended = true },
      signal: AbortSignal.timeout(20_000)
    })
    run.start()
    await run.done
    assert.equal(ended, true)
    assert.deepEqual(condemned, [])
    assert.equal(task.status, 'complete')
    assert.equal(task.awaitingWholeFileCheck, false)
    assert.deepEqual(cleared, [task.id])
    assert.equal(sha256Hex(await storedBytes(store, task.id, content.length)), sha256Hex(content))
    assert.equal(origin.bytesServed, 0)
    assert.ok((swarm.blocksFrom.get('even') ?? 0) >= 5 && (swarm.blocksFrom.get('odd') ?? 0) >= 4, JSON.stringify([...swarm.blocksFrom]))
    assert.deepEqual(swarm.announced, [{ task: task.id, complete: false }, { task: task.id, complete: true }])
    // The last checkpoint made it durable: a restart finds it complete and verified.
    const [saved] = await store.list()
    assert.equal(saved?.meta.verified, true)
    assert.equal(new Task(saved.meta, saved.blockHashes).status, 'complete')
  })
})


describe('a download run from the origin, keyed by the content\'s sha256', () => {
  for (const wholeBody of [false, true]) {
    it(`hashes the whole file from the blocks as they land, reading nothing back (${wholeBody ? 'one whole body' : 'pieces side by side'})`, async () => {
      const content = contentOf(12 * pieceSize + 777)
      const origin = fakeOrigin(content, { wholeBody })
      const store = new MemoryTaskStore()
      const meta = taskMetaOf(content, pieceSize, { blockSize: 32 * KiB })
      const task = new Task(meta)
      const { file, bytesRead } = counted(await store.create(meta))
      const condemned: IntegrityError[] = []
      const probe = wholeBody ? await origin.probe({ url: 'http://origin.invalid/f', headers: {} }, AbortSignal.timeout(5000)) : undefined
      const run = new DownloadRun({ origin, swarm: fakeSwarm(), scores: new PeerScores(), store, quarantine: { cleared: () => {}, condemn: (_task, error) => { condemned.push(error) }, moveAside: async () => {} }, logger: silentLogger }, {
        task,
        file,
        source: { url: 'http://origin.invalid/f', headers: {} },
        plan: { holders: [], origin: () => 'all', ...(probe === undefined ? {} : { probe }) },
        concurrency: 3,
        onEnd: () => {},
        signal: AbortSignal.timeout(20_000)
      })
      run.start()
      await run.done
      assert.deepEqual(condemned, [])
      assert.equal(task.status, 'complete')
      assert.equal(task.awaitingWholeFileCheck, false, 'verified')
      assert.equal(bytesRead(), 0, 'the whole-file check read nothing back')
      assert.equal(sha256Hex(await storedBytes(store, task.id, content.length)), sha256Hex(content))
    })
  }

  it('condemns a file whose origin bytes do not hash to the key (fed from the blocks, never read back)', async () => {
    const content = contentOf(6 * pieceSize)
    const lying = Buffer.from(content)
    lying[3 * pieceSize + 5] = lying[3 * pieceSize + 5]! ^ 1
    const origin = fakeOrigin(lying)
    const store = new MemoryTaskStore()
    const meta = taskMetaOf(content, pieceSize, { blockSize: 32 * KiB })
    const task = new Task(meta)
    const { file, bytesRead } = counted(await store.create(meta))
    const condemned: IntegrityError[] = []
    const run = new DownloadRun({ origin, swarm: fakeSwarm(), scores: new PeerScores(), store, quarantine: { cleared: () => {}, condemn: (_task, error) => { condemned.push(error) }, moveAside: async () => {} }, logger: silentLogger }, {
      task,
      file,
      source: { url: 'http://origin.invalid/f', headers: {} },
      plan: { holders: [], origin: () => 'all' },
      concurrency: 2,
      onEnd: () => {},
      signal: AbortSignal.timeout(20_000)
    })
    run.start()
    await run.done
    assert.equal(condemned.length, 1)
    assert.equal(task.awaitingWholeFileCheck, true, 'never verified')
    assert.equal(bytesRead(), 0)
  })
})
