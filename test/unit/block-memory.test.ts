import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { Bitmap } from '../../src/storage/bitmap.js'
import { adopt, blockBuffer, blockMemoryOutcomes, BlockHolds, freeBlockBytes, hold, letGo } from '../../src/storage/block-memory.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import type { TaskStore } from '../../src/storage/task-files.js'
import { PiecePlan } from '../../src/task/piece-plan.js'
import { Task } from '../../src/task/task.js'

const KiB = 1024
const MiB = 1024 * KiB
const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

/**
 * The free list is per process and LIFO: memory given back is the next one taken of its class.
 * Each test below uses a size class of its own, so they do not see each other's memory.
 */
describe('block memory: holders', () => {
  it('memory with two holders is reused only once both let go', () => {
    const block = blockBuffer(3 * KiB)
    adopt(block)
    assert.ok(hold(block), 'our memory can be held')
    letGo(block, true)
    const meanwhile = blockBuffer(3 * KiB)
    assert.notEqual(meanwhile.buffer, block.buffer, 'one holder is left: not reused')
    letGo(block, true)
    const before = blockMemoryOutcomes().reused
    const next = blockBuffer(3 * KiB)
    assert.equal(next.buffer, block.buffer, 'no holder is left: reused')
    assert.equal(blockMemoryOutcomes().reused, before + 1)
  })

  it('memory abandoned by one holder is never reused, whatever the others do', () => {
    const block = blockBuffer(100 * KiB)
    adopt(block)
    hold(block)
    letGo(block, false)
    letGo(block, true)
    letGo(block, true)
    assert.equal(hold(block), false, 'abandoned memory is not counted any more')
    assert.notEqual(blockBuffer(100 * KiB).buffer, block.buffer)
  })

  it('holds given back twice count once: memory another holder has stays out of the free list', () => {
    const block = blockBuffer(40 * KiB)
    adopt(block)
    const holds = new BlockHolds()
    holds.take(block)
    assert.equal(holds.size, 1)
    holds.release()
    holds.release()
    holds.abandon()
    assert.notEqual(blockBuffer(40 * KiB).buffer, block.buffer, 'the first holder still has it')
    letGo(block, true)
    assert.equal(blockBuffer(40 * KiB).buffer, block.buffer)
  })

  it('memory that is not ours (a copy, a slab) is never taken into the free list', () => {
    const foreign = Buffer.allocUnsafeSlow(256 * KiB)
    const holds = new BlockHolds()
    holds.take(foreign)
    assert.equal(holds.size, 0)
    letGo(foreign, true)
    assert.notEqual(blockBuffer(256 * KiB).buffer, foreign.buffer)
  })
})

/** A complete task of `blocks` 16 KiB blocks of random bytes in a memory store. */
async function storedTask (store: TaskStore, id: string, blocks: number): Promise<{ task: Task, content: Buffer }> {
  const blockSize = 16 * KiB
  const pieceSize = 4 * blockSize
  const content = randomBytes(blocks * blockSize)
  const plan = new PiecePlan(content.length, pieceSize)
  const task = new Task({
    version: 1,
    id,
    key: `sha256:${sha256(content).toString('hex')}`,
    url: 'http://origin.invalid/f',
    length: content.length,
    pieceSize,
    blockSize,
    headers: {},
    bitmap: new Bitmap(plan.pieceCount).toBase64(),
    digests: new Array<string | null>(plan.pieceCount).fill(null),
    createdAt: 1,
    lastAccessAt: 1
  })
  const file = await store.create(task.toMeta())
  try {
    const layout = task.blocks.layout
    for (let piece = 0; piece < plan.pieceCount; piece++) {
      const start = plan.start(piece)
      const bytes = content.subarray(start, start + plan.size(piece))
      await file.write([bytes], start)
      const first = piece * layout.blocksPerPiece
      const hashes = Array.from({ length: layout.blocksIn(piece) }, (_, index) => sha256(content.subarray(layout.start(first + index), layout.start(first + index) + layout.size(first + index))))
      task.markPieceComplete(piece, sha256(bytes).toString('hex'), 'origin', undefined, hashes)
    }
    for (const { firstBlock, bytes } of task.blocks.takeDirty()) await file.writeBlockHashes(firstBlock, bytes)
  } finally {
    await file.close()
  }
  return { task, content }
}

/** Reads the whole task once, copying each part before asking for the next (as a hit's writes do). */
async function churn (store: TaskStore, task: Task): Promise<void> {
  const file = await store.open(task.id, 'read')
  try {
    for await (const part of file.readVerified(task.blocks, 0, task.length - 1, { signal: AbortSignal.timeout(5000), recycle: true })) Buffer.from(part)
  } finally {
    await file.close()
  }
}

/** Reads the whole task, keeping every part under `holds` (as a peer's reply does). */
async function readHeld (store: TaskStore, task: Task, holds: BlockHolds): Promise<Buffer[]> {
  const file = await store.open(task.id, 'read')
  const parts: Buffer[] = []
  try {
    for await (const part of file.readVerified(task.blocks, 0, task.length - 1, { signal: AbortSignal.timeout(5000), holds })) parts.push(part)
  } finally {
    await file.close()
  }
  return parts
}

/**
 * Two readers of the whole task, each keeping its parts under its holds, asking for their next
 * block in turn: the second finds each block on the first one's shelf (two peers, one block).
 */
async function inStep (store: TaskStore, task: Task, first: BlockHolds, second: BlockHolds): Promise<[Buffer[], Buffer[]]> {
  const files = [await store.open(task.id, 'read'), await store.open(task.id, 'read')]
  const signal = AbortSignal.timeout(5000)
  const readers = [files[0]!.readVerified(task.blocks, 0, task.length - 1, { signal, holds: first }), files[1]!.readVerified(task.blocks, 0, task.length - 1, { signal, holds: second })]
  const parts: [Buffer[], Buffer[]] = [[], []]
  try {
    for (let done = false; !done;) {
      for (const [index, reader] of readers.entries()) {
        const next = await reader.next()
        if (next.done === true) done = true
        else parts[index]!.push(next.value)
      }
    }
  } finally {
    for (const file of files) await file.close()
  }
  return parts
}

describe('block memory: verified readers', () => {
  it('a block shared by two readers is not reused until both released; then it is', async () => {
    const store = new MemoryTaskStore()
    await store.init()
    const { task, content } = await storedTask(store, 'a'.repeat(64), 8)
    const other = await storedTask(store, 'c'.repeat(64), 8)
    const first = new BlockHolds()
    const second = new BlockHolds()
    // Two peers asking for the same blocks at once: the second reader takes the first's buffers.
    const [a, b] = await inStep(store, task, first, second)
    assert.ok(a.some((part, index) => part.buffer === b[index]!.buffer), 'the readers shared block memory')
    assert.deepEqual(Buffer.concat(b), content)
    first.release()
    const reusedBefore = blockMemoryOutcomes().reused
    for (let run = 0; run < 4; run++) await churn(store, other.task)
    assert.ok(blockMemoryOutcomes().reused > reusedBefore, 'other blocks went round the free list meanwhile')
    assert.deepEqual(Buffer.concat(b), content, 'what the second reader still holds kept its bytes')
    second.release()
    for (let run = 0; run < 4; run++) await churn(store, other.task)
    // Memory read into again moved to a hashing thread: views of it from before are detached.
    assert.ok(b.some(part => part.length === 0), 'once both released, their memory was reused')
  })

  it('an unreleased view keeps its bytes while other blocks go round; abandoned memory is never reused', async () => {
    const store = new MemoryTaskStore()
    await store.init()
    const { task, content } = await storedTask(store, 'd'.repeat(64), 6)
    const other = await storedTask(store, 'e'.repeat(64), 6)
    const forgotten = await readHeld(store, task, new BlockHolds())
    const failed = new BlockHolds()
    const abandoned = await readHeld(store, task, failed)
    failed.abandon()
    const reusedBefore = blockMemoryOutcomes().reused
    for (let run = 0; run < 6; run++) await churn(store, other.task)
    assert.ok(blockMemoryOutcomes().reused > reusedBefore)
    assert.deepEqual(Buffer.concat(forgotten), content, 'a view never released kept its bytes')
    assert.deepEqual(Buffer.concat(abandoned), content, 'an abandoned view kept its bytes')
  })

  it('the reader lets go of its own hold at once: a held block comes back after one release', async () => {
    const store = new MemoryTaskStore()
    await store.init()
    const { task } = await storedTask(store, 'f'.repeat(64), 4)
    const other = await storedTask(store, '1'.repeat(64), 4)
    const holds = new BlockHolds()
    const parts = await readHeld(store, task, holds)
    assert.equal(holds.size, parts.length)
    holds.release()
    await churn(store, other.task)
    assert.ok(parts.some(part => part.length === 0), 'released memory was read into again')
  })
})

describe('block memory: bounds', () => {
  it('the free list stays bounded: memory beyond 16 MiB is left to the garbage collector', () => {
    const blocks = Array.from({ length: 40 }, () => blockBuffer(1 * MiB))
    for (const block of blocks) adopt(block)
    for (const block of blocks) letGo(block, true)
    assert.ok(freeBlockBytes() <= 16 * MiB, `${freeBlockBytes()} bytes free`)
    assert.ok(freeBlockBytes() >= 15 * MiB, 'and it kept what it could')
    // Taken out again, so that the free list has room for other memory.
    for (let index = 0; index < 16; index++) blockBuffer(1 * MiB)
  })
})
