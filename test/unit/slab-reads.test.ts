import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { DataConnection } from '../../src/p2p/data-connection/client.js'
import { encodeFrame, FrameReader } from '../../src/p2p/data-connection/frames.js'
import { connectionMagic, tokenBytes } from '../../src/p2p/data-connection/keys.js'
import { SlabReads } from '../../src/p2p/data-connection/read-buffers.js'
import { RecordOpener, RecordSealer } from '../../src/p2p/data-connection/records.js'
import { SlabPool, type SlabOutcome } from '../../src/p2p/data-connection/slab-pool.js'
import { pieceRequest } from '../../src/p2p/messages.js'
import type { ReceivedBlock } from '../../src/p2p/piece-protocol.js'
import { PieceBlockHasher } from '../../src/storage/block-hasher.js'
import { BlockLayout } from '../../src/storage/blocks.js'
import { PiecePlan } from '../../src/task/piece-plan.js'

const MiB = 1024 * 1024

/** Counts what a pool reports. */
function tally (): { onSlab: (outcome: SlabOutcome) => void, allocated: number, reused: number } {
  const counts = { allocated: 0, reused: 0, onSlab: (outcome: SlabOutcome) => { counts[outcome]++ } }
  return counts
}

/** One read as the kernel does it: `bytes` written at the start of the buffer `next` gives. */
function read (reads: SlabReads, bytes: Buffer): Buffer {
  const target = reads.next()
  assert.ok(target.length >= bytes.length)
  bytes.copy(target)
  return reads.landed(bytes.length, target)
}

describe('slab pool', () => {
  it('reuses a slab only once every holder released it, and keeps at most maxFree', () => {
    const counts = tally()
    const pool = new SlabPool({ slabBytes: 1024, maxFree: 2, onSlab: counts.onSlab })
    const a = pool.take()
    pool.hold(a)
    pool.release(a)
    assert.notEqual(pool.take(), a, 'still held once: not reused')
    pool.release(a)
    assert.equal(pool.idle, 1)
    assert.equal(pool.take(), a, 'released by all: reused')
    assert.deepEqual([counts.allocated, counts.reused], [2, 1])
    const more = [pool.take(), pool.take(), pool.take()]
    for (const slab of [a, ...more]) pool.release(slab)
    assert.equal(pool.idle, 2, 'the pool is bounded: the rest is left to the garbage collector')
    assert.throws(() => { pool.release(a) }, RangeError)
    assert.throws(() => { pool.hold(a) }, RangeError)
  })

  it('slabs are shared memory: a hashing thread reads views in place, nothing can move them', () => {
    const slab = new SlabPool({ slabBytes: 1024 }).take()
    assert.ok(slab.bytes.buffer instanceof SharedArrayBuffer)
  })
})

describe('slab reads', () => {
  it('a held view keeps its bytes while later reads go through the other slabs again and again', () => {
    const counts = tally()
    const reads = new SlabReads({ slabBytes: 1 * MiB, maxFree: 2, onSlab: counts.onSlab })
    const first = randomBytes(200 * 1024)
    const view = read(reads, first)
    const slab = reads.hold(view)
    assert.ok(slab !== undefined)
    // Without a hold, a view of a slab the reader left is overwritten once the slab comes back:
    // what a use-after-reuse looks like, and what this test would see. (The first slab is
    // filled, so this view lies in the second.)
    read(reads, randomBytes(800 * 1024))
    const unheld = read(reads, randomBytes(200 * 1024))
    assert.notEqual(unheld.buffer, view.buffer)
    const unheldCopy = Buffer.from(unheld)
    for (let index = 0; index < 40; index++) read(reads, randomBytes(300 * 1024))
    assert.ok(counts.reused > 10, `slabs were reused (${counts.reused} reused, ${counts.allocated} allocated)`)
    assert.ok(counts.allocated <= 4, `the pool bounded what it allocated: ${counts.allocated}`)
    assert.ok(view.equals(first), 'the held view kept its bytes')
    assert.ok(!unheld.equals(unheldCopy), 'the view nobody held was read into again (the test can fail)')
    assert.equal(reads.hold(Buffer.alloc(10)), undefined, 'memory of its own is no slab')
    reads.release(slab)
  })

  it('a record spread over several reads keeps its views while the reader moves to the next slab', () => {
    // A record whose body fills most of a slab and ends in the next read, which goes to a new
    // slab: were the opener not holding the first slab, that read would reuse it, over the body.
    const receive = (holds: boolean): Buffer[] => {
      const reads = new SlabReads({ slabBytes: 1 * MiB, maxFree: 1 })
      const records: Buffer[] = []
      const opener = new RecordOpener({ cipher: 'chacha20-poly1305' }, (chunks) => { records.push(Buffer.concat(chunks)) }, holds ? reads : undefined)
      const wire = Buffer.concat([Buffer.alloc(4), payload])
      wire.writeUInt32BE(payload.length)
      const first = 4 + 900 * 1024
      opener.feed(read(reads, wire.subarray(0, first)))
      opener.feed(read(reads, wire.subarray(first)))
      return records
    }
    const payload = randomBytes(1000 * 1024)
    const records = receive(true)
    assert.equal(records.length, 1)
    assert.ok(records[0]!.equals(payload), 'the record arrived whole and unchanged')
    assert.ok(!receive(false)[0]!.equals(payload), 'without holds the second read lands on the body (the test can fail)')
  })
})

/**
 * A holder speaking plain records, as serve-connection.ts does: an empty first record, then for
 * each request a header frame and the block's bytes in records of ≤ 1 MiB. Each block's bytes
 * are drawn at random and remembered by offset.
 */
async function plainHolder (): Promise<{ server: Server, port: number, sent: Map<number, Buffer> }> {
  const sent = new Map<number, Buffer>()
  const server = createServer((socket: Socket) => {
    const sealer = new RecordSealer({ cipher: 'chacha20-poly1305' })
    const frames = new FrameReader({
      header: (value) => {
        const request = pieceRequest.parse(value)
        const data = randomBytes(request.length)
        sent.set(request.offset, data)
        sealer.write(socket, [encodeFrame({ ok: true, length: request.length })])
        for (let at = 0; at < data.length; at += MiB) sealer.write(socket, [data.subarray(at, at + MiB)])
        return 0
      },
      payload: () => {},
      end: () => {}
    })
    const opener = new RecordOpener({ cipher: 'chacha20-poly1305' }, (chunks) => { for (const chunk of chunks) frames.push(chunk) })
    // The magic and token (any token: this holder checks none), then requests.
    const helloBytes = connectionMagic.length + tokenBytes
    let hello: Buffer | undefined = Buffer.alloc(0)
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      if (hello !== undefined) {
        hello = Buffer.concat([hello, chunk])
        if (hello.length < helloBytes) return
        chunk = hello.subarray(helloBytes)
        hello = undefined
        sealer.write(socket, [])
      }
      opener.feed(chunk)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, sent }
}

describe('a plain data connection', () => {
  const servers: Server[] = []
  after(() => { for (const server of servers) server.close() })

  /** A plain holder and a connection to it whose slab outcomes are counted. */
  const connectPlain = async (): Promise<{ holder: Awaited<ReturnType<typeof plainHolder>>, counts: ReturnType<typeof tally>, connection: DataConnection }> => {
    const holder = await plainHolder()
    servers.push(holder.server)
    const counts = tally()
    const connection = await DataConnection.open({
      host: '127.0.0.1',
      port: holder.port,
      token: randomBytes(tokenBytes),
      requests: { cipher: 'chacha20-poly1305' },
      responses: { cipher: 'chacha20-poly1305' },
      signal: AbortSignal.timeout(10_000),
      onSlab: counts.onSlab
    })
    return { holder, counts, connection }
  }

  it('hands blocks over as views of pooled slabs; a block not released keeps its bytes while the slabs go round', async () => {
    const { holder, counts, connection } = await connectPlain()
    const blockBytes = 4 * MiB + 3
    const ask = async (index: number): Promise<ReceivedBlock> => {
      const block = await connection.request({ task: 'a'.repeat(64), piece: 0, offset: index * blockBytes, length: blockBytes }, AbortSignal.timeout(10_000))
      assert.ok(block !== undefined)
      return block
    }
    const kept = await ask(0)
    assert.ok(kept.release !== undefined, 'pooled memory comes with a release')
    assert.notEqual(kept.owned, true, 'pooled memory must never be moved to another thread')
    const keptCopy = Buffer.from(kept.data.subarray())
    for (let index = 1; index <= 12; index++) {
      const block = await ask(index)
      assert.ok(Buffer.from(block.data.subarray()).equals(holder.sent.get(index * blockBytes)!), `block ${index}`)
      block.release!()
      block.release!()
    }
    assert.ok(counts.reused > 0, `slabs were reused (${counts.reused} reused, ${counts.allocated} allocated)`)
    assert.ok(counts.allocated < 10, `most slabs came back: ${counts.allocated} allocated`)
    const keptNow = Buffer.concat([...kept.data])
    assert.ok(keptNow.equals(keptCopy) && keptNow.equals(holder.sent.get(0)!), 'the unreleased block kept its bytes')
    kept.release!()
    connection.close()
  })

  it('a block whose bytes are hashed in place goes back only once the hashing thread read them', async () => {
    const { holder, counts, connection } = await connectPlain()
    // Requests of 1.5 MiB against hash blocks of 8 MiB: most requests end mid hash block, whose
    // bytes wait (held) across several slabs for the requests after them before they are hashed.
    const pieceBytes = 48 * MiB
    const hashBytes = 8 * MiB
    const layout = new BlockLayout(new PiecePlan(pieceBytes, pieceBytes), hashBytes)
    const hasher = new PieceBlockHasher(layout, 0)
    const requestBytes = 1.5 * MiB
    const released: Array<Promise<void>> = []
    for (let offset = 0; offset < pieceBytes; offset += requestBytes) {
      const block = await connection.request({ task: 'a'.repeat(64), piece: 0, offset, length: requestBytes }, AbortSignal.timeout(10_000))
      assert.ok(block?.release !== undefined)
      for (const chunk of block.data) await hasher.update(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), block.owned === true)
      released.push(hasher.hashed().then(block.release))
    }
    const { piece, blocks } = await hasher.digest()
    await Promise.all(released)
    const all = Buffer.concat([...holder.sent.keys()].sort((a, b) => a - b).map(offset => holder.sent.get(offset)!))
    assert.equal(piece, createHash('sha256').update(all).digest('hex'))
    assert.equal(blocks.length, 6)
    blocks.forEach((digest, index) => { assert.ok(digest.equals(createHash('sha256').update(all.subarray(index * hashBytes, (index + 1) * hashBytes)).digest()), `block ${index}`) })
    assert.ok(counts.reused > 0, `slabs were reused (${counts.reused} reused, ${counts.allocated} allocated)`)
    connection.close()
  })
})
