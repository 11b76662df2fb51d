import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { PieceBlockHasher } from '../../src/storage/block-hasher.js'
import { openWholeFileHash } from '../../src/storage/hash-pool.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import { OrderedHash } from '../../src/storage/ordered-hash.js'
import type { TaskFile } from '../../src/storage/task-files.js'
import type { WholeFileHash } from '../../src/storage/whole-file-hash.js'
import { Task } from '../../src/task/task.js'
import { checkWholeFile } from '../../src/task/whole-file-check.js'
import { contentOf, countedReads, sha256Hex, taskMetaOf } from '../helpers/task-fakes.js'

const KiB = 1024
const pieceSize = 256 * KiB
const blockSize = 64 * KiB
const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

/** A task keyed by the sha256 of `content`, its file in memory, and a count of the bytes read back from it. */
async function taskOf (content: Buffer, expected = sha256Hex(content)): Promise<{ task: Task, file: TaskFile, bytesRead: () => number }> {
  const meta = taskMetaOf(content, pieceSize, { blockSize, sha256: expected })
  const stored = await new MemoryTaskStore().create(meta)
  const { file, bytesRead } = countedReads(stored)
  const task = new Task(meta)
  task.startDownloading()
  return { task, file, bytesRead }
}

/**
 * Lands piece `index` as a download does: written, then hashed block by block with the
 * whole-file hash offered each block; `bytes` are what arrived (maybe corrupt), `proven` the
 * piece's block hashes for a peer's piece (absent: origin bytes). Returns whether the piece
 * verified (and was marked held).
 */
async function land (task: Task, file: TaskFile, whole: WholeFileHash | undefined, index: number, bytes: Buffer, proven?: Buffer[]): Promise<boolean> {
  const hasher = new PieceBlockHasher(task.blocks.layout, index, proven === undefined ? { whole, trusted: true } : { whole, piece: false })
  if (proven !== undefined) hasher.expect(proven)
  await file.write([bytes], task.plan.start(index))
  // Odd chunks, each memory of its own given up (as a decrypted record is).
  for (let offset = 0; offset < bytes.length; offset += 40_000) {
    await hasher.update(Buffer.from(bytes.subarray(offset, offset + 40_000)), offset % 80_000 === 0)
  }
  const { piece, blocks } = await hasher.digest()
  if (proven !== undefined && !blocks.every((digest, block) => digest.equals(proven[block]!))) return false
  task.markPieceComplete(index, piece, proven === undefined ? 'origin' : 'peer', proven === undefined ? undefined : 'peer-a', blocks)
  return true
}

const pieceOf = (task: Task, content: Buffer, index: number): Buffer => content.subarray(task.plan.start(index), task.plan.start(index) + task.plan.size(index))
const provenOf = (task: Task, content: Buffer, index: number): Buffer[] => {
  const bytes = pieceOf(task, content, index)
  return Array.from({ length: task.blocks.layout.blocksIn(index) }, (_, block) => sha256(bytes.subarray(block * blockSize, (block + 1) * blockSize)))
}

describe('whole-file hash fed by the blocks as they land', () => {
  const content = contentOf(4 * pieceSize + 1000)

  it('landing in order hashes the file from the blocks: nothing is read back', async () => {
    const { task, file, bytesRead } = await taskOf(content)
    const whole = openWholeFileHash(task.length)
    const checking = checkWholeFile(task, file, AbortSignal.timeout(10_000), whole)
    for (let index = 0; index < task.plan.pieceCount; index++) assert.ok(await land(task, file, whole, index, pieceOf(task, content, index)))
    assert.deepEqual(await checking, { ok: true })
    assert.equal(bytesRead(), 0, 'no byte read back from the file')
    assert.equal(whole.readBackBytes, 0)
  })

  it('out of order within the window: blocks wait on the hashing thread, nothing is read back', async () => {
    const { task, file, bytesRead } = await taskOf(content)
    const whole = openWholeFileHash(task.length)
    const checking = checkWholeFile(task, file, AbortSignal.timeout(10_000), whole)
    for (const index of [2, 0, 3, 1, 4]) assert.ok(await land(task, file, whole, index, pieceOf(task, content, index), provenOf(task, content, index)))
    assert.deepEqual(await checking, { ok: true })
    assert.equal(bytesRead(), 0)
  })

  it('out of order beyond the window: the rest is read back from disk, and the digest is right', async () => {
    const { task, file, bytesRead } = await taskOf(content)
    const whole = openWholeFileHash(task.length, 2 * blockSize)
    const checking = checkWholeFile(task, file, AbortSignal.timeout(10_000), whole)
    for (const index of [3, 1, 4, 2, 0]) assert.ok(await land(task, file, whole, index, pieceOf(task, content, index)))
    assert.deepEqual(await checking, { ok: true })
    assert.ok(bytesRead() >= 2 * pieceSize && bytesRead() < content.length, `read back ${bytesRead()} of ${content.length}`)
  })

  it('a resumed download reads back only the pieces it kept; the rest is hashed as it lands', async () => {
    const { task, file, bytesRead } = await taskOf(content)
    // Pieces 0 and 1 are on disk from the run before (held, not verified: no whole-file hash yet).
    for (const index of [0, 1]) assert.ok(await land(task, file, undefined, index, pieceOf(task, content, index)))
    const before = bytesRead()
    const whole = openWholeFileHash(task.length)
    const checking = checkWholeFile(task, file, AbortSignal.timeout(10_000), whole)
    for (let index = 2; index < task.plan.pieceCount; index++) assert.ok(await land(task, file, whole, index, pieceOf(task, content, index)))
    assert.deepEqual(await checking, { ok: true })
    assert.equal(bytesRead() - before, 2 * pieceSize, 'the two kept pieces, and nothing else, read back')
  })

  it('a peer block that does not hash to its proof never reaches the whole-file hash', async () => {
    const { task, file, bytesRead } = await taskOf(content)
    const whole = openWholeFileHash(task.length)
    const checking = checkWholeFile(task, file, AbortSignal.timeout(10_000), whole)
    assert.ok(await land(task, file, whole, 0, pieceOf(task, content, 0), provenOf(task, content, 0)))
    const corrupt = Buffer.from(pieceOf(task, content, 1))
    corrupt[blockSize + 7] = corrupt[blockSize + 7]! ^ 1
    assert.equal(await land(task, file, whole, 1, corrupt, provenOf(task, content, 1)), false, 'the corrupt piece is refused')
    // Fetched again from an honest peer: the file hashes right, with nothing read back.
    for (let index = 1; index < task.plan.pieceCount; index++) assert.ok(await land(task, file, whole, index, pieceOf(task, content, index), provenOf(task, content, index)))
    assert.deepEqual(await checking, { ok: true })
    assert.equal(bytesRead(), 0)
  })

  it('a wrong byte anywhere fails the check: in origin bytes fed live, and in bytes read back', async () => {
    for (const order of [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]]) {
      for (const at of [5, pieceSize + blockSize + 3, content.length - 1]) {
        const wrong = Buffer.from(content)
        wrong[at] = wrong[at]! ^ 0x80
        const { task, file } = await taskOf(wrong, sha256Hex(content))
        const whole = openWholeFileHash(task.length, blockSize)
        const checking = checkWholeFile(task, file, AbortSignal.timeout(10_000), whole)
        for (const index of order) assert.ok(await land(task, file, whole, index, pieceOf(task, wrong, index)))
        const result = await checking
        assert.equal(result.ok, false, `byte ${at} flipped, pieces landing ${order.join(',')}`)
      }
    }
  })

  it('stops, and lets go of the hash, when the download pauses', async () => {
    const { task, file } = await taskOf(content)
    const whole = openWholeFileHash(task.length)
    const checking = checkWholeFile(task, file, AbortSignal.timeout(10_000), whole)
    assert.ok(await land(task, file, whole, 1, pieceOf(task, content, 1)))
    task.pause(new Error('origin gone'))
    await assert.rejects(checking, /origin gone/)
    assert.equal(whole.wants(0, blockSize), false, 'a dropped hash wants no more blocks')
  })
})

describe('ordered hash (the hashing thread\'s side)', () => {
  const bytes = contentOf(10 * 1000)
  const at = (offset: number): Uint8Array[] => [bytes.subarray(offset, offset + 1000)]

  it('hashes bytes offered in any order within its window into the file\'s sha256', () => {
    const hash = new OrderedHash(4000)
    const evicted: number[] = []
    const outcomes = [3, 1, 2, 0, 5, 4, 9, 8, 7, 6].map(block => hash.offer(block * 1000, at(block * 1000), false, evicted))
    assert.deepEqual(outcomes, ['parked', 'parked', 'parked', 'fed', 'parked', 'fed', 'parked', 'parked', 'parked', 'fed'])
    assert.deepEqual(evicted, [])
    assert.equal(hash.position, bytes.length)
    assert.equal(hash.waiting, 0)
    assert.deepEqual(hash.digest(), sha256(bytes))
  })

  it('parks a copy: the caller may reuse its memory at once, and copies are reused once hashed', () => {
    const hash = new OrderedHash(3000)
    const evicted: number[] = []
    const scratch = Buffer.alloc(1000)
    for (const block of [2, 1, 0, 5, 4, 3, 8, 7, 6, 9]) {
      bytes.copy(scratch, 0, block * 1000, block * 1000 + 1000)
      hash.offer(block * 1000, [scratch], false, evicted)
      scratch.fill(0xee)
    }
    assert.deepEqual(evicted, [])
    assert.equal(hash.position, bytes.length)
    assert.deepEqual(hash.digest(), sha256(bytes))
  })

  it('keeps the nearest bytes when the window is full, and skips bytes it already has', () => {
    const hash = new OrderedHash(2000)
    const evicted: number[] = []
    assert.equal(hash.offer(5000, at(5000), false, evicted), 'parked')
    assert.equal(hash.offer(3000, at(3000), false, evicted), 'parked')
    assert.equal(hash.offer(1000, at(1000), false, evicted), 'parked')
    assert.deepEqual(evicted, [5000], 'the farthest gave way')
    assert.equal(hash.offer(4000, at(4000), false, evicted), 'dropped', 'farther than all it keeps')
    assert.equal(hash.offer(1000, at(1000), false, evicted), 'skipped')
    assert.equal(hash.offer(0, [bytes.subarray(0, 500), bytes.subarray(500, 1000)], false, evicted), 'fed')
    assert.equal(hash.position, 2000)
    assert.equal(hash.offer(0, at(0), false, evicted), 'skipped')
    // A read back that overlaps what was hashed feeds only the rest.
    assert.equal(hash.offer(1500, [bytes.subarray(1500, 10_000)], false, evicted), 'fed')
    assert.equal(hash.position, bytes.length)
    assert.deepEqual(hash.digest(), sha256(bytes))
  })
})
