import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { PieceBlockHasher } from '../../src/storage/block-hasher.js'
import { BlockLayout } from '../../src/storage/blocks.js'
import { endIdleHashThreads, hashBlock, hashParts, hashStream } from '../../src/storage/hash-pool.js'
import { PiecePlan } from '../../src/task/piece-plan.js'

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

describe('hashing threads', () => {
  it('idle threads are ended, never while a hash runs, and the next hash starts them again', async () => {
    await hashBlock(Buffer.from('warm'))
    const running = hashStream()
    await running.update(Buffer.from('abc'))
    assert.equal(endIdleHashThreads(), false, 'a running hash keeps its thread')
    assert.deepEqual(await running.digest(), sha256(Buffer.from('abc')))
    assert.equal(endIdleHashThreads(), true)
    assert.equal(endIdleHashThreads(), false, 'nothing left to end')
    const data = randomBytes(64 * 1024)
    const { digest } = await hashBlock(Buffer.from(data))
    assert.deepEqual(digest, sha256(data), 'hashing works again on a new thread')
  })

  it('a moved block comes back with the same bytes and its sha256', async () => {
    const data = randomBytes(1024 * 1024 + 3)
    const copy = Buffer.from(data)
    const { data: back, digest } = await hashBlock(data)
    assert.equal(data.byteLength, 0, 'a buffer that owns its memory is moved, not copied')
    assert.deepEqual(back, copy)
    assert.deepEqual(digest, sha256(copy))
  })

  it('a view into shared memory is copied, and the memory around it is untouched', async () => {
    const small = Buffer.from('hello, pooled world')
    const neighbour = Buffer.from('neighbour')
    const { digest } = await hashBlock(small)
    assert.deepEqual(digest, sha256(Buffer.from('hello, pooled world')))
    assert.equal(small.toString(), 'hello, pooled world')
    assert.equal(neighbour.toString(), 'neighbour')
  })

  it('a running hash over updates and blocks equals one sha256 of all the bytes in order', async () => {
    const parts = [randomBytes(1000), randomBytes(64 * 1024), randomBytes(9 * 1024 * 1024), randomBytes(5)]
    const stream = hashStream()
    await stream.update(parts[0]!)
    const { digest } = await stream.block(Buffer.from(new Uint8Array(parts[1]!).buffer))
    assert.deepEqual(digest, sha256(parts[1]!))
    // Past the pending limit: update waits for the thread instead of queueing without bound.
    await stream.update(parts[2]!)
    await stream.update(parts[3]!)
    assert.deepEqual(await stream.digest(), sha256(Buffer.concat(parts)))
  })

  it('many streams at once keep their bytes apart', async () => {
    const inputs = Array.from({ length: 8 }, () => randomBytes(200_000))
    const digests = await Promise.all(inputs.map(async (input) => {
      const stream = hashStream()
      for (let offset = 0; offset < input.length; offset += 30_000) await stream.update(input.subarray(offset, offset + 30_000))
      return await stream.digest()
    }))
    digests.forEach((digest, index) => { assert.deepEqual(digest, sha256(inputs[index]!)) })
  })

  it('a block in parts: shared parts are shared, movable parts move, the rest is copied', async () => {
    const shared = Buffer.from(new SharedArrayBuffer(4096))
    shared.set(randomBytes(4096))
    const owned = randomBytes(100_000)
    const pooled = Buffer.from('a pooled view')
    const view = randomBytes(50_000).subarray(10, 20_000)
    const expected = sha256(Buffer.concat([shared.subarray(5, 3000), owned, pooled, view]))
    const digest = await hashParts([shared.subarray(5, 3000), owned, pooled, view], new Set([owned]))
    assert.deepEqual(digest, expected)
    assert.equal(owned.byteLength, 0, 'a movable buffer that owns its memory moves')
    assert.equal(pooled.toString(), 'a pooled view')
    assert.equal(view.byteLength, 19_990)
  })

  it('a running hash fed with moved buffers and block parts equals one sha256 of all the bytes', async () => {
    const first = randomBytes(300_000)
    const second = randomBytes(70_000)
    const stream = hashStream()
    const buffer = Buffer.allocUnsafeSlow(first.length + 100)
    first.copy(buffer)
    const back = await stream.feed(buffer, first.length)
    assert.equal(buffer.byteLength, 0, 'fed buffers move')
    assert.deepEqual(back.subarray(0, first.length), first)
    const blockDigest = await stream.blockParts([second.subarray(0, 1000), second.subarray(1000)])
    assert.deepEqual(blockDigest, sha256(second))
    assert.deepEqual(await stream.digest(), sha256(Buffer.concat([first, second])))
  })

  it('a piece hasher gives each block and the piece their sha256, whatever the chunks, moving only what it may', async () => {
    const blockSize = 64 * 1024
    const piece = randomBytes(4 * blockSize + 1000)
    const plan = new PiecePlan(piece.length, piece.length)
    const layout = new BlockLayout(plan, blockSize)
    const hasher = new PieceBlockHasher(layout, 0)
    // Chunks that straddle block boundaries, each owning its memory and given up; one kept.
    const kept = Buffer.from(new Uint8Array(piece.subarray(0, 70_000)).buffer)
    await hasher.update(kept, false)
    const given: Buffer[] = []
    for (let offset = 70_000; offset < piece.length; offset += 90_000) {
      const chunk = Buffer.from(new Uint8Array(piece.subarray(offset, offset + 90_000)).buffer)
      given.push(chunk)
      await hasher.update(chunk, true)
    }
    const { piece: pieceDigest, blocks } = await hasher.digest()
    assert.equal(pieceDigest, sha256(piece).toString('hex'))
    assert.deepEqual(blocks, Array.from({ length: 5 }, (_, index) => sha256(piece.subarray(index * blockSize, (index + 1) * blockSize))))
    assert.deepEqual(kept, piece.subarray(0, 70_000), 'a chunk not given up stays')
    assert.ok(given.some(chunk => chunk.byteLength === 0), 'given-up chunks move')
  })

  it('a piece hasher asked for block hashes only gives no piece digest, the same block hashes', async () => {
    const piece = randomBytes(3 * 1000 + 7)
    const layout = new BlockLayout(new PiecePlan(piece.length, piece.length), 1000)
    const hasher = new PieceBlockHasher(layout, 0, { piece: false })
    await hasher.update(Buffer.from(piece), true)
    const { piece: pieceDigest, blocks } = await hasher.digest()
    assert.equal(pieceDigest, undefined)
    assert.deepEqual(blocks, Array.from({ length: 4 }, (_, index) => sha256(piece.subarray(index * 1000, (index + 1) * 1000))))
  })

  it('hashed() waits for a block not yet whole until it is sealed, or dropped', async () => {
    const layout = new BlockLayout(new PiecePlan(3000, 3000), 1000)
    const settled = (promise: Promise<void>): { done: boolean } => {
      const state = { done: false }
      void promise.then(() => { state.done = true })
      return state
    }
    const shared = Buffer.from(new SharedArrayBuffer(3000))
    shared.set(randomBytes(3000))
    const hasher = new PieceBlockHasher(layout, 0, { piece: false })
    await hasher.update(shared.subarray(0, 500))
    const firstHashed = hasher.hashed()
    const first = settled(firstHashed)
    // No block is whole: a hashed() that did not wait for the first would have settled by now.
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(first.done, false, 'half a block waits for its other half')
    await hasher.update(shared.subarray(500))
    await firstHashed
    const { blocks } = await hasher.digest()
    assert.deepEqual(blocks, [0, 1, 2].map(index => sha256(shared.subarray(index * 1000, (index + 1) * 1000))))

    const dropped = new PieceBlockHasher(layout, 0, { piece: false })
    await dropped.update(shared.subarray(0, 500))
    const waiting = dropped.hashed()
    dropped.drop()
    await waiting
  })
})
