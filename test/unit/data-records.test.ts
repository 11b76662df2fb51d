import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import type { Socket } from 'node:net'
import { DataConnectionError } from '../../src/errors.js'
import { encodeFrame, FrameReader } from '../../src/p2p/data-connection/frames.js'
import { deriveKeys, newSessionSecret } from '../../src/p2p/data-connection/keys.js'
import { RecordOpener, RecordSealer, type RecordKey } from '../../src/p2p/data-connection/records.js'
import { ProtocolError } from '../../src/p2p/wire.js'

/** A stand-in socket (cork, write, uncork, writableNeedDrain) that collects what RecordSealer writes. */
function sink (): { socket: Socket, bytes: () => Buffer } {
  const stream = new PassThrough()
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => { chunks.push(chunk) })
  const socket = stream as unknown as Socket
  return { socket, bytes: () => Buffer.concat(chunks) }
}

async function sealed (protection: RecordKey, records: Buffer[][]): Promise<Buffer> {
  const out = sink()
  const sealer = new RecordSealer(protection)
  for (const parts of records) sealer.write(out.socket, parts)
  await new Promise(resolve => setImmediate(resolve))
  return out.bytes()
}

/** Feeds `wire` in pieces cut at `cuts` (any sizes), collecting each record's plaintext. */
function open (protection: RecordKey, wire: Buffer, cut: number): Buffer[] {
  const records: Buffer[] = []
  const opener = new RecordOpener(protection, (chunks) => { records.push(Buffer.concat(chunks)) })
  for (let offset = 0; offset < wire.length; offset += cut) opener.feed(wire.subarray(offset, offset + cut))
  return records
}

const key = (): RecordKey => ({ cipher: 'chacha20-poly1305', key: randomBytes(32) })

describe('data connection records', () => {
  const payloads = [Buffer.alloc(0), randomBytes(1), randomBytes(300 * 1024), randomBytes(1024 * 1024)]

  for (const protection of [key(), { cipher: 'aes-256-gcm' as const, key: randomBytes(32) }, { cipher: 'chacha20-poly1305' as const }]) {
    it(`round-trips records of 0 B to 1 MiB in any read sizes (${protection.key === undefined ? 'plain' : protection.cipher})`, async () => {
      const wire = await sealed(protection, payloads.map(payload => [payload.subarray(0, 7), payload.subarray(7)]))
      for (const cut of [4093, 65_536, wire.length]) {
        const records = open(protection, wire, cut)
        assert.equal(records.length, payloads.length)
        records.forEach((record, index) => { assert.ok(record.equals(payloads[index]!), `record ${index}, reads of ${cut}`) })
      }
      // Byte by byte: every header, body and tag split at every place.
      const small = [randomBytes(1), randomBytes(40)]
      const smallWire = await sealed(protection, small.map(payload => [payload]))
      for (const cut of [1, 3]) assert.deepEqual(open(protection, smallWire, cut), small)
    })
  }

  it('a flipped bit, a dropped record, a swapped pair or another key fails the tag', async () => {
    const protection = key()
    const one = randomBytes(1000)
    const two = randomBytes(2000)
    const wire = await sealed(protection, [[one], [two]])
    const first = wire.subarray(0, 4 + one.length + 16)
    const second = wire.subarray(first.length)
    const flipped = Buffer.from(wire)
    flipped[10] = flipped[10]! ^ 1
    const cases: Array<[string, Buffer, RecordKey]> = [
      ['flipped', flipped, protection],
      ['dropped', second, protection],
      ['swapped', Buffer.concat([second, first]), protection],
      ['other key', wire, key()]
    ]
    for (const [name, bytes, opener] of cases) {
      assert.throws(() => open(opener, bytes, 100), (error: unknown) => error instanceof DataConnectionError, name)
    }
  })

  it('refuses a record announced over 1 MiB before reading it', () => {
    const header = Buffer.alloc(4)
    header.writeUInt32BE(1024 * 1024 + 1, 0)
    assert.throws(() => open(key(), header, 4), DataConnectionError)
  })

  it('derives different keys per direction, per session and per peer pair', () => {
    const session = newSessionSecret()
    const keys = deriveKeys(session, 'server', 'client')
    assert.ok(!keys.request.equals(keys.response))
    assert.ok(deriveKeys(session, 'server', 'client').request.equals(keys.request))
    assert.ok(!deriveKeys(session, 'server', 'other').request.equals(keys.request))
    assert.ok(!deriveKeys(newSessionSecret(), 'server', 'client').request.equals(keys.request))
  })
})

describe('data connection frames', () => {
  it('cuts header frames and payloads apart, payload bytes as views of their chunks', () => {
    const payload = randomBytes(5000)
    const stream = Buffer.concat([encodeFrame({ ok: true, length: payload.length }), payload, encodeFrame({ ok: false })])
    const headers: unknown[] = []
    const parts: Buffer[] = []
    let ends = 0
    const reader = new FrameReader({
      header: (value) => { headers.push(value); return (value as { length?: number }).length ?? 0 },
      payload: (chunk) => { parts.push(chunk) },
      end: () => { ends++ }
    })
    for (let offset = 0; offset < stream.length; offset += 333) reader.push(stream.subarray(offset, offset + 333))
    assert.deepEqual(headers, [{ ok: true, length: 5000 }, { ok: false }])
    assert.ok(Buffer.concat(parts).equals(payload))
    assert.equal(ends, 2)
    assert.ok(reader.idle)
  })

  it('rejects a header that is not JSON, or over 64 KiB', () => {
    const reader = (): FrameReader => new FrameReader({ header: () => 0, payload: () => {}, end: () => {} })
    const notJson = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{{{')])
    assert.throws(() => { reader().push(notJson) }, ProtocolError)
    assert.throws(() => { reader().push(Buffer.from([0, 1, 0, 1])) }, ProtocolError)
  })
})
