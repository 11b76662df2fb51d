import '../src/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { ComponentLogger, Logger, MessageStream, Stream } from '@libp2p/interface'
import { generateKey as pnetGenerateKey, preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { runKeygen } from '../src/cli/keygen.js'
import {
  generatePskKey, MAX_KEYSTREAM_BLOCKS, parsePskKey, PskKeyError, PskKeyMismatchError,
  PskKeystreamExhaustedError, pskProtector, readPskFile, XSalsa20Stream
} from '../src/p2p/psk/index.js'

const KiB = 1024
const MiB = 1024 * KiB

const BULK_PROTOCOL = '/damselfly/test/bulk/1.0.0'

const HEX_KEY = 'dffb7e3135399a8b1612b2aaca1c36a3a8ac2cd0cca51ceeb2ced87d308cac6d'
const keyFile = (text: string): Uint8Array => new TextEncoder().encode(text)

describe('psk key files', () => {
  it('parses the go/js format, with LF, CRLF, a trailing newline and upper-case hex', () => {
    const expected = Uint8Array.from(Buffer.from(HEX_KEY, 'hex'))
    assert.deepEqual(parsePskKey(keyFile(`/key/swarm/psk/1.0.0/\n/base16/\n${HEX_KEY}`)), expected)
    assert.deepEqual(parsePskKey(keyFile(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX_KEY}\r\n`)), expected)
    assert.deepEqual(parsePskKey(keyFile(`/key/swarm/psk/1.0.0/\n/base16/\n${HEX_KEY.toUpperCase()}\n`)), expected)
  })

  it('parses the /base64/ and /bin/ encodings go-libp2p also reads', () => {
    const key = randomBytes(32)
    assert.deepEqual(parsePskKey(keyFile(`/key/swarm/psk/1.0.0/\n/base64/\n${key.toString('base64')}\n`)), Uint8Array.from(key))
    const binary = Buffer.concat([Buffer.from('/key/swarm/psk/1.0.0/\n/bin/\n'), key])
    assert.deepEqual(parsePskKey(binary), Uint8Array.from(key))
  })

  it('generates 95-byte key files that both we and @libp2p/pnet read, and reads pnet\'s', () => {
    const ours = generatePskKey()
    assert.equal(ours.byteLength, 95)
    assert.match(new TextDecoder().decode(ours), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    assert.equal(parsePskKey(ours).byteLength, 32)
    assert.notDeepEqual(parsePskKey(generatePskKey()), parsePskKey(ours))
    assert.doesNotThrow(() => preSharedKey({ psk: ours })())
    const theirs = new Uint8Array(95)
    pnetGenerateKey(theirs)
    assert.equal(parsePskKey(theirs).byteLength, 32)
  })

  it('rejects malformed files with a PskKeyError that names the problem and never the key', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /first line must be/],
      [HEX_KEY, /first line must be/],
      [`/key/swarm/psk/2.0.0/\n/base16/\n${HEX_KEY}`, /first line must be/],
      [`/key/swarm/psk/1.0.0/\n/base32/\n${HEX_KEY}`, /unsupported key encoding/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX_KEY.slice(2)}`, /64 hex digits .* found 62 characters/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX_KEY.slice(1)}z`, /not a hex digit/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX_KEY}\nextra`, /64 hex digits/],
      ['/key/swarm/psk/1.0.0/\n/base64/\nAAAA\n', /base64/],
      ['/key/swarm/psk/1.0.0/\n/bin/\nshort', /exactly 32 bytes/]
    ]
    for (const [text, message] of cases) {
      assert.throws(() => parsePskKey(keyFile(text)), (error: unknown) => {
        assert.ok(error instanceof PskKeyError, `${JSON.stringify(text)} threw ${String(error)}`)
        assert.equal(error.code, 'ERR_PSK_KEY')
        assert.match(error.message, message)
        assert.ok(!error.message.includes(HEX_KEY.slice(4, 20)), 'the message quotes the key')
        return true
      })
    }
  })

  it('reads a key file, and names the file when it cannot', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'damselfly-psk-'))
    try {
      const path = join(folder, 'swarm.key')
      await writeFile(path, `/key/swarm/psk/1.0.0/\n/base16/\n${HEX_KEY}\n`)
      assert.deepEqual(await readPskFile(path), Uint8Array.from(Buffer.from(HEX_KEY, 'hex')))
      await assert.rejects(readPskFile(join(folder, 'missing.key')), (error: unknown) =>
        error instanceof PskKeyError && /cannot read .*missing\.key/.test(error.message))
      await writeFile(path, HEX_KEY)
      await assert.rejects(readPskFile(path), (error: unknown) =>
        error instanceof PskKeyError && error.message.startsWith(`${path}: `))
    } finally {
      await rm(folder, { recursive: true, force: true })
    }
  })

  it('refuses a bad key when the protector is configured, not at the first connection', () => {
    assert.throws(() => pskProtector({ psk: keyFile('not a key') }), PskKeyError)
    assert.doesNotThrow(() => pskProtector({ psk: randomBytes(32) }))
  })
})

describe('xsalsa20 keystream', () => {
  const key = randomBytes(32)
  const nonce = randomBytes(24)

  it('equals noble\'s single-shot result for random chunk splits, in place and not', () => {
    for (let round = 0; round < 40; round++) {
      const data = randomBytes(1 + Math.floor(Math.random() * 20_000))
      const expected = xsalsa20(key, nonce, data)
      const stream = new XSalsa20Stream(key, nonce)
      const inPlace = Buffer.from(data)
      const separate = new Uint8Array(data.byteLength)
      const twin = new XSalsa20Stream(key, nonce)
      let offset = 0
      while (offset < data.byteLength) {
        // Mostly small and odd sizes, sometimes several blocks, sometimes empty.
        const size = Math.min(data.byteLength - offset, Math.random() < 0.2 ? Math.floor(Math.random() * 3000) : Math.floor(Math.random() * 130))
        stream.xor(inPlace.subarray(offset, offset + size))
        twin.xor(data.subarray(offset, offset + size), separate.subarray(offset, offset + size))
        offset += size
        assert.equal(stream.position, offset)
      }
      assert.deepEqual(new Uint8Array(inPlace), expected)
      assert.deepEqual(separate, expected)
    }
  })

  it('continues a keystream across gigabyte positions (block counters past 2^24)', () => {
    const startBlock = 2 ** 24 + 5
    const stream = new XSalsa20Stream(key, nonce, { startBlock })
    const data = randomBytes(1000)
    const expected = xsalsa20(key, nonce, data, undefined, startBlock)
    const out = new Uint8Array(1000)
    stream.xor(data.subarray(0, 7), out.subarray(0, 7))
    stream.xor(data.subarray(7), out.subarray(7))
    assert.deepEqual(out, expected)
  })

  it('refuses to run past its last block instead of reusing keystream', () => {
    const stream = new XSalsa20Stream(key, nonce, { startBlock: MAX_KEYSTREAM_BLOCKS - 2 })
    stream.xor(new Uint8Array(100))
    stream.xor(new Uint8Array(28))
    assert.equal(stream.pending, 0)
    assert.throws(() => stream.xor(new Uint8Array(1)), PskKeystreamExhaustedError)
    assert.doesNotThrow(() => stream.xor(new Uint8Array(0)))
  })
})

describe('psk protector on an in-memory connection pair', () => {
  const psk = generatePskKey()
  const key = parsePskKey(psk)

  it('puts exactly the pnet wire format on the connection and leaves the sender\'s buffers alone', async () => {
    const [outbound, inbound] = multiaddrConnectionPair()
    // What the protector hands the transport, copied as it goes by.
    const wire: Uint8Array[] = []
    const send = outbound.send.bind(outbound)
    outbound.send = (data) => {
      wire.push(data instanceof Uint8Array ? Uint8Array.from(data) : data.slice())
      return send(data)
    }
    const protector = pskProtector({ psk, expectMultistreamHeader: false, timeoutMs: 30_000 })({ logger: silentComponentLogger })
    const [sending, receiving] = await Promise.all([protector.protect(outbound), protector.protect(inbound)])
    const payload = randomBytes(100_003)
    const original = Buffer.from(payload)
    const received = collect(receiving, payload.byteLength)
    for (let offset = 0; offset < payload.byteLength; offset += 7_001) sending.send(payload.subarray(offset, offset + 7_001))
    assert.deepEqual(await received, original)
    assert.deepEqual(payload, original, 'the protector changed the buffers it was given')

    const raw = Buffer.concat(wire)
    const nonce = raw.subarray(0, 24)
    assert.equal(raw.byteLength, 24 + payload.byteLength)
    assert.deepEqual(new Uint8Array(raw.subarray(24)), xsalsa20(key, nonce, original))
  })

  it('refuses the connection on the first byte that is not the multistream-select header', async () => {
    const strict = pskProtector({ psk, timeoutMs: 30_000 })({ logger: silentComponentLogger })
    const pair = async (): Promise<MessageStream[]> => await Promise.all(multiaddrConnectionPair().map(async (end) => await strict.protect(end)))
    const closeError = (stream: MessageStream): Promise<unknown> =>
      new Promise((resolve) => { stream.addEventListener('close', (event) => { resolve(event.error) }) })

    const [sending, receiving] = await pair() as [MessageStream, MessageStream]
    const received = collect(receiving, 28)
    sending.send(new TextEncoder().encode('\x13/multistream/1.0.0\n'))
    sending.send(new TextEncoder().encode('\x07/noise\n'))
    assert.equal((await received).toString('latin1'), '\x13/multistream/1.0.0\n\x07/noise\n')
    assert.equal(receiving.status, 'open')

    const [sendingGarbage, refusing] = await pair() as [MessageStream, MessageStream]
    const refused = closeError(refusing)
    sendingGarbage.send(new TextEncoder().encode('\x13/multistream/1.0.0!'))
    assert.ok(await refused instanceof PskKeyMismatchError)
    assert.equal(refusing.status, 'aborted')
  })
})

describe('damselfly keygen', () => {
  let folder: string
  before(async () => { folder = await mkdtemp(join(tmpdir(), 'damselfly-keygen-')) })
  after(async () => { await rm(folder, { recursive: true, force: true }) })

  it('writes a 0600 key file, refuses to replace it, and replaces it with --force', async () => {
    const path = join(folder, 'swarm.key')
    const io = captureIo()
    assert.equal(await runKeygen(['-o', path], io), 0)
    const first = await readFile(path)
    assert.equal(parsePskKey(first).byteLength, 32)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.equal(io.out(), '')

    assert.equal(await runKeygen(['--output', path], io), 1)
    assert.match(io.err(), /refusing to replace/)
    assert.deepEqual(await readFile(path), first)

    await writeFile(path, 'old', { mode: 0o644 })
    assert.equal(await runKeygen([`--output=${path}`, '--force'], io), 0)
    assert.equal(parsePskKey(await readFile(path)).byteLength, 32)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
  })

  it('prints a key file to standard output, and rejects unknown options', async () => {
    const io = captureIo()
    assert.equal(await runKeygen([], io), 0)
    assert.equal(parsePskKey(keyFile(io.out())).byteLength, 32)
    assert.equal(await runKeygen(['--bogus'], io), 2)
    assert.equal(await runKeygen(['-o'], io), 2)
    assert.match(io.err(), /unknown option "--bogus"/)
  })
})

describe('psk protector between libp2p nodes', () => {
  const psk = generatePskKey()
  const nodes: Libp2p[] = []
  const start = async (connectionProtector?: Libp2pOptions['connectionProtector']): Promise<Libp2p> => {
    const node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionProtector
    })
    nodes.push(node)
    return node
  }
  after(async () => { await Promise.all(nodes.map(async (node) => { await node.stop() })) })

  it('moves 128 MiB over one stream byte-exact between nodes with the same key (1 GiB between whole nodes: swarm-membership.test)', async () => {
    const sender = await start(pskProtector({ psk }))
    const receiver = await start(pskProtector({ psk }))
    const { done } = await expectTransfer(receiver)
    const sent = await sendBytes(sender, receiver, 128 * MiB)
    const result = await done
    assert.equal(result.bytes, 128 * MiB)
    assert.equal(result.digest, sent.digest)
  })

  it('refuses a peer with another key, and a peer with no key, at once', async () => {
    const protectedNode = await start(pskProtector({ psk }))
    const otherKey = await start(pskProtector({ psk: generatePskKey() }))
    const noKey = await start()
    const refusedWithin = async (from: Libp2p, to: Libp2p, limitMs: number): Promise<void> => {
      const started = Date.now()
      await assert.rejects(from.dial(to.getMultiaddrs(), { signal: AbortSignal.timeout(15_000) }))
      assert.ok(Date.now() - started < limitMs, `refused after ${Date.now() - started} ms`)
    }
    // A few rounds: the garbled bytes differ every time (fresh nonces), and without the
    // multistream-header check about 40% of them made the upgrade wait for its 6 s timeout.
    for (let round = 0; round < 4; round++) {
      await refusedWithin(otherKey, protectedNode, 1_000)
      await refusedWithin(protectedNode, otherKey, 1_000)
      await refusedWithin(noKey, protectedNode, 1_000)
    }
    // A plain libp2p listener answers nothing to our nonce: the nonce timeout bounds the wait.
    const impatient = await start(pskProtector({ psk, timeoutMs: 500 }))
    await refusedWithin(impatient, noKey, 2_000)
    assert.equal(protectedNode.getConnections().length, 0)
    assert.equal(noKey.getConnections().length, 0)
  })

  it('interoperates with @libp2p/pnet in both directions', async () => {
    const ours = await start(pskProtector({ psk }))
    const theirs = await start(preSharedKey({ psk }))
    for (const [from, to] of [[ours, theirs], [theirs, ours]] as const) {
      const { done } = await expectTransfer(to)
      const sent = await sendBytes(from, to, 8 * MiB + 13)
      const result = await done
      assert.equal(result.bytes, 8 * MiB + 13)
      assert.equal(result.digest, sent.digest)
      await to.unhandle(BULK_PROTOCOL)
    }
  })
})

interface Transfer { bytes: number, digest: string }

/**
 * Registers a handler for one bulk stream on `node`; `done` settles with what it received (count
 * and sha256) once the sender has closed the stream.
 */
async function expectTransfer (node: Libp2p): Promise<{ done: Promise<Transfer> }> {
  let resolve!: (transfer: Transfer) => void
  let reject!: (error: unknown) => void
  const done = new Promise<Transfer>((res, rej) => { resolve = res; reject = rej })
  await node.handle(BULK_PROTOCOL, async (stream: Stream) => {
    try {
      const hash = createHash('sha256')
      let bytes = 0
      for await (const message of stream) {
        for (const chunk of message instanceof Uint8Array ? [message] : message) {
          hash.update(chunk)
          bytes += chunk.byteLength
        }
      }
      await stream.close()
      resolve({ bytes, digest: hash.digest('hex') })
    } catch (error) {
      reject(error)
    }
  }, { force: true })
  return { done }
}

/**
 * Sends `total` bytes on a new stream, honouring back-pressure: 13 random 256 KiB buffers
 * (made once, 3.25 MiB) in turn, so making the data costs nothing and no 1 GiB is ever held.
 */
async function sendBytes (from: Libp2p, to: Libp2p, total: number): Promise<Transfer> {
  const signal = AbortSignal.timeout(120_000)
  const stream = await from.dialProtocol(to.getMultiaddrs(), BULK_PROTOCOL, { signal })
  const hash = createHash('sha256')
  let sent = 0
  for (let index = 0; sent < total; index++) {
    const buffer = DATA_POOL[index % DATA_POOL.length] as Buffer
    const chunk = buffer.subarray(0, Math.min(buffer.byteLength, total - sent))
    hash.update(chunk)
    sent += chunk.byteLength
    if (!stream.send(chunk)) await stream.onDrain({ signal })
  }
  await stream.close({ signal })
  return { bytes: sent, digest: hash.digest('hex') }
}

const DATA_POOL = Array.from({ length: 13 }, () => randomBytes(256 * KiB))

/** Reads `length` bytes from a message stream. */
async function collect (stream: MessageStream, length: number): Promise<Buffer> {
  return await new Promise((resolve) => {
    const chunks: Uint8Array[] = []
    let total = 0
    stream.addEventListener('message', (event) => {
      for (const chunk of event.data instanceof Uint8Array ? [event.data] : event.data) {
        chunks.push(chunk)
        total += chunk.byteLength
      }
      if (total >= length) resolve(Buffer.concat(chunks))
    })
  })
}

const silentLog: Logger = Object.assign(() => {}, {
  error: () => {},
  trace: () => {},
  enabled: false,
  newScope: () => silentLog
})
const silentComponentLogger: ComponentLogger = { forComponent: () => silentLog }

interface CapturedIo { stdout: Writable, stderr: Writable, out: () => string, err: () => string }

function captureIo (): CapturedIo {
  const texts = { out: '', err: '' }
  const sink = (name: keyof typeof texts): Writable => new Writable({
    write (chunk: Buffer, _encoding, callback) { texts[name] += chunk.toString(); callback() }
  })
  return { stdout: sink('out'), stderr: sink('err'), out: () => texts.out, err: () => texts.err }
}
