import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { silentLogger } from '../../src/logging/logger.js'
import { PeerScores } from '../../src/scheduling/peer-scores.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import { TaskManager } from '../../src/task/task-manager.js'
import { contentOf, fakeOrigin, fakeSwarm, keyOf, sha256Hex, storedBytes } from '../helpers/task-fakes.js'

const KiB = 1024
const pieceSize = 256 * KiB

/**
 * Single flight (task-registry): every request for one content while its download starts or
 * runs joins that download. No node is started: the task manager runs over an in-memory store,
 * a fake origin and a swarm with nobody in it.
 */
describe('two requests for one task at once', () => {
  it('start one download: one probe, each byte fetched from the origin once, the same task for both', async () => {
    const content = contentOf(4 * pieceSize + 12_345)
    const origin = fakeOrigin(content)
    let release!: () => void
    origin.gate = new Promise(resolve => { release = resolve })
    const store = new MemoryTaskStore()
    const tasks = new TaskManager({ store, origin, logger: silentLogger, swarm: fakeSwarm(), scores: new PeerScores() }, { pieceSize, concurrency: 2 })
    await tasks.start()
    const key = keyOf(content)
    const signal = AbortSignal.timeout(20_000)
    try {
      const first = tasks.acquire({ key, source: { url: 'http://origin.invalid/a', headers: {} } }, signal)
      // The second client arrives while the first one's probe is still out.
      await origin.probed
      const second = tasks.acquire({ key, source: { url: 'http://origin.invalid/b', headers: {} } }, signal)
      release()
      const [a, b] = await Promise.all([first, second])
      assert.equal(a.task, b.task)
      assert.equal(a.hit, false)
      assert.equal(origin.probes, 1)
      await a.task.whenVerified(signal)
      // Once complete, a third request is a hit and goes nowhere.
      const third = await tasks.acquire({ key, source: { url: 'http://origin.invalid/c', headers: {} } }, signal)
      assert.equal(third.hit, true)
      assert.equal(third.task, a.task)
    } finally {
      await tasks.stop()
    }
    assert.equal(origin.probes, 1)
    assert.equal(origin.bytesServed, content.length)
    assert.equal(sha256Hex(await storedBytes(store, key.id, content.length)), sha256Hex(content))
  })
})
