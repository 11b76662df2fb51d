import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { hashBlock, hashStream } from '../../src/storage/hash-pool.js'

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

describe('hashing threads', () => {
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
})
