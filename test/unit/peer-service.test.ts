import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { silentLogger } from '../../src/logging/logger.js'
import { Bitmap } from '../../src/storage/bitmap.js'
import { PeerScores } from '../../src/scheduling/peer-scores.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import { TaskManager } from '../../src/task/task-manager.js'
import { contentOf, fakeOrigin, fakeSwarm, keyOf, sha256Hex } from '../helpers/task-fakes.js'

const KiB = 1024
const pieceSize = 128 * KiB

/** What other peers get from this node's tasks (peer-service.ts), over a memory store. */
describe('serving peers from a task on disk', () => {
  it('sends verified bytes of held pieces, and drops a piece that rotted instead of sending it', async () => {
    const content = contentOf(4 * pieceSize + 999)
    const store = new MemoryTaskStore()
    const tasks = new TaskManager({ store, origin: fakeOrigin(content), logger: silentLogger, swarm: fakeSwarm(), scores: new PeerScores() }, { pieceSize, concurrency: 2 })
    await tasks.start()
    const key = keyOf(content)
    const signal = AbortSignal.timeout(20_000)
    try {
      const { task } = await tasks.acquire({ key, source: { url: 'http://origin.invalid/f', headers: {} } }, signal)
      await task.whenVerified(signal)
      const meta = tasks.metadata(key.id)
      assert.equal(meta?.complete, true)
      assert.equal(meta.digests[1], sha256Hex(content.subarray(pieceSize, 2 * pieceSize)))
      const block = await tasks.readBlock(key.id, 1, 1000, 5000)
      assert.ok(block !== undefined)
      assert.deepEqual(Buffer.concat(block.data), content.subarray(pieceSize + 1000, pieceSize + 6000))
      assert.equal(block.digest, meta.digests[1])
      // A piece not held, or a range past its end, is refused.
      assert.equal(await tasks.readBlock(key.id, 9, 0, 10), undefined)
      assert.equal(await tasks.readBlock(key.id, 1, pieceSize - 10, 11), undefined)
      // Bit rot in piece 2: never passed on; the piece is dropped, so that it is fetched again.
      store.corrupt(key.id, 2 * pieceSize + 5)
      assert.equal(await tasks.readBlock(key.id, 2, 0, 100), undefined)
      assert.equal(task.bitmap.has(2), false)
      const after = tasks.metadata(key.id)
      assert.equal(after?.complete, false)
      assert.equal(Bitmap.fromBase64(task.plan.pieceCount, after.bitmap).has(2), false)
    } finally {
      await tasks.stop()
    }
  })
})
