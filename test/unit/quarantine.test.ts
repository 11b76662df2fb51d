import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { IntegrityError } from '../../src/errors.js'
import { silentLogger } from '../../src/logging/logger.js'
import { PeerScores } from '../../src/scheduling/peer-scores.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import { PiecePlan } from '../../src/task/piece-plan.js'
import { TaskManager } from '../../src/task/task-manager.js'
import { contentOf, fakeOrigin, fakeSwarm, holderMeta, keyOf, sha256Hex, storedBytes, taskMetaOf } from '../helpers/task-fakes.js'

const KiB = 1024
const pieceSize = 128 * KiB
const good = contentOf(6 * pieceSize + 777)
/** The same length, other bytes: every piece is self-consistent, the whole file is not `good`. */
const bad = contentOf(good.length, 'a lie')
const key = keyOf(good)
const source = { url: 'http://origin.invalid/f', headers: {} }

/** A copy that fails its whole-file sha256 is moved aside and fetched again from the origin (quarantine.ts). */
describe('a copy whose whole-file check fails', () => {
  it('after a download from a lying holder: moved aside, the holder scored down, the origin refetches it byte-exact', async () => {
    const store = new MemoryTaskStore()
    const origin = fakeOrigin(good)
    // The holder's pieces match the digests it publishes; only the whole file betrays them.
    const swarm = fakeSwarm({ holders: [{ peer: 'liar', meta: { ...holderMeta(bad, pieceSize), task: key.id, key: key.key }, content: bad }] })
    const scores = new PeerScores()
    const tasks = new TaskManager({ store, origin, logger: silentLogger, swarm, scores }, { pieceSize, concurrency: 2 })
    await tasks.start()
    const signal = AbortSignal.timeout(20_000)
    try {
      const first = await tasks.acquire({ key, source }, signal)
      await assert.rejects(first.task.whenVerified(signal), IntegrityError)
      assert.equal(first.task.status, 'quarantined')
      assert.equal(origin.probes, 0)
      // The next request waits for the copy to be moved aside, then starts afresh.
      const second = await tasks.acquire({ key, source }, signal)
      assert.notEqual(second.task, first.task)
      assert.ok(store.quarantined.has(key.id), 'the bad copy is kept aside')
      assert.ok(swarm.withdrawn.includes(key.id), 'the bad copy is no longer advertised')
      assert.equal(scores.snapshot().find(peer => peer.peerId === 'liar')?.failures['bad-file'], 1)
      await second.task.whenVerified(signal)
    } finally {
      await tasks.stop()
    }
    // From the origin alone, though the holder is still there.
    assert.equal(origin.probes, 1)
    assert.equal(origin.bytesServed, good.length)
    assert.equal(sha256Hex(await storedBytes(store, key.id, good.length)), sha256Hex(good))
  })

  it('found complete but unchecked on disk: checked before it is trusted, moved aside, refetched', async () => {
    const store = new MemoryTaskStore()
    const plan = new PiecePlan(bad.length, pieceSize)
    // A crash between the last piece and the check: complete, `verified` not set.
    const meta = taskMetaOf(bad, pieceSize, { held: Array.from({ length: plan.pieceCount }, (_, index) => index), sha256: sha256Hex(good) })
    const file = await store.create(meta)
    await file.write([bad], 0)
    await file.close()
    const origin = fakeOrigin(good)
    const tasks = new TaskManager({ store, origin, logger: silentLogger, swarm: fakeSwarm(), scores: new PeerScores() }, { pieceSize, concurrency: 2 })
    await tasks.start()
    const signal = AbortSignal.timeout(20_000)
    try {
      const stored = await tasks.acquire({ key, source }, signal)
      assert.equal(stored.hit, true)
      await assert.rejects(stored.task.whenVerified(signal), IntegrityError)
      const fresh = await tasks.acquire({ key, source }, signal)
      assert.equal(fresh.hit, false)
      assert.ok(store.quarantined.has(key.id))
      await fresh.task.whenVerified(signal)
    } finally {
      await tasks.stop()
    }
    assert.equal(origin.probes, 1)
    assert.equal(sha256Hex(await storedBytes(store, key.id, good.length)), sha256Hex(good))
  })
})
