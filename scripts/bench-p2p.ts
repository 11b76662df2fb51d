import '../src/polyfill.js'
/**
 * Peer-to-peer throughput benchmark: moves one payload (default 1 GiB) from a sender process to a
 * receiver process on 127.0.0.1 over several paths and prints MB/s (MB = 10^6 bytes), peak RSS
 * and CPU of both sides. Sender and receiver are separate child processes of this script (it
 * re-invokes itself with `--role receiver|sender`), so on a 2-core machine they share 2 cores as
 * two Damselfly nodes would.
 *
 *   node dist/scripts/bench-p2p.js                      # default paths, 1 GiB, 3 runs, median
 *   node dist/scripts/bench-p2p.js --size 256MiB --runs 1
 *   node dist/scripts/bench-p2p.js --paths tcp,libp2p-stock,'libp2p:iwindow=16m:write=1m:conns=2'
 *   node dist/scripts/bench-p2p.js --paths libp2p-stock --runs 1 --cpu-prof /tmp/prof
 *   node dist/scripts/bench-p2p.js --list              # presets
 *
 * A path is a preset name or `kind:key=value:...` with kind tcp | tcp-stream | libp2p | side:
 *   write=64k      bytes per socket.write / stream.send / side-channel record
 *   streams=1      libp2p streams per connection (libp2p kind)
 *   conns=1        TCP / libp2p connections (a second libp2p connection to the same peer needs
 *                  dial(addr, { force: true }))
 *   window=16m     yamux maxStreamWindowSize;  iwindow=256k  yamux initialStreamWindowSize
 *   crypto=default noise crypto: default (node:crypto for >=1200 B) | node | js (@noble, pure JS) |
 *                  concat (default, but each encrypted message is one Buffer, not a list of
 *                  pieces: the TCP layer writes every piece with its own socket.write)
 *   nodelay=true   TCP_NODELAY on libp2p sockets (the @libp2p/tcp default)
 *   enc=noise|tls  mux=yamux|mplex   (tls and mplex need @libp2p/tls / @libp2p/mplex installed;
 *                  they are not project dependencies)
 *   cipher=aes-256-gcm | chacha20-poly1305   (side kind)
 *   onread=false   receiver reads into one reused buffer (net onread); default true for side
 *   slice=256k     side kind: bytes per cipher update() (encrypt and decrypt)
 *   rbuf=1m        receive buffer with onread
 *   malloc=default | tuned   tuned: run both processes with GLIBC_TUNABLES set to MALLOC_TUNED
 *                  (no mmap/munmap per large Buffer: fewer page faults; any kind)
 *   rec=aead | plain | tls | async   (side kind) record layer of the data connection:
 *                  aead   own records, node:crypto AEAD (the design in docs/p2p-throughput.md)
 *                  plain  the session id is checked, then the bytes flow unencrypted (integrity
 *                         then rests on the piece hashes alone)
 *                  tls    node:tls TLS 1.2 with the derived key as PSK (PSK-AES256-GCM-SHA384 or
 *                         ECDHE-PSK-CHACHA20-POLY1305; Node has no TLS 1.3 PSK)
 *                  async  the aead records with AES-256-GCM through WebCrypto (crypto.subtle),
 *                         whose jobs run on the libuv pool; depth=4 records in flight
 *
 * The `side` kind is the "noise-authenticated side channel": a libp2p stream (tcp+noise+yamux)
 * carries a key exchange bound to both peer ids, then the payload moves over a separate plain TCP
 * connection that the receiver opens (so it can read with `onread`), in AEAD records (node:crypto)
 * with sequence-number nonces; see docs/p2p-throughput.md.
 *
 * Writes results/bench-p2p.json (relative to the current directory; --out to change it).
 * Options: --size (1GiB), --runs (3), --paths, --out, --cpu-prof DIR (profile the children and print
 * their top self-time functions), --verify (sha256 every stream on both sides; slower),
 * --idle-wait SECONDS (wait up to this long for an idle machine before each run; 60),
 * --max-other-load CORES and --attempts N (repeat a run, up to N times, while other processes used
 * more than CORES of CPU during it; 0.25 and 4: the median is taken over the least-disturbed tries).
 */
import { spawn } from 'node:child_process'
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, webcrypto } from 'node:crypto'
import type { CipherGCMTypes, DecipherGCM, CipherGCM, Hash } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { dirname, join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { scriptArgs } from './lib/args.js'
import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto, nodeCrypto, pureJsCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Connection, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'

// ---------------------------------------------------------------------------------------------
// path specs

type Kind = 'tcp' | 'tcp-stream' | 'libp2p' | 'side'
type AeadCipher = 'aes-256-gcm' | 'chacha20-poly1305'

interface PathSpec {
  name: string
  kind: Kind
  /** bytes per write / send() / record */
  write: number
  conns: number
  /** libp2p streams per connection */
  streams: number
  /** yamux maxStreamWindowSize (undefined = yamux default, 16 MiB) */
  window?: number
  /** yamux initialStreamWindowSize (undefined = yamux default, 256 KiB) */
  iwindow?: number
  crypto: 'default' | 'node' | 'js' | 'concat'
  /** connection encrypter: noise, or tls (@libp2p/tls, not a project dependency: install it first) */
  enc: 'noise' | 'tls'
  /** stream muxer: yamux, or mplex (@libp2p/mplex, not a project dependency: install it first) */
  mux: 'yamux' | 'mplex'
  nodelay: boolean
  cipher: AeadCipher
  /** receiver reads into one reused buffer (net `onread`) instead of a new Buffer per read */
  onread: boolean
  /** side kind: bytes per cipher update() call (encrypt and decrypt) */
  slice: number
  /** receive buffer size with onread */
  rbuf: number
  /** side kind: record layer, own AEAD records (aead) or TLS 1.2 with the derived key as PSK (tls) */
  rec: 'aead' | 'async' | 'tls' | 'plain'
  /** tuned: children run with GLIBC_TUNABLES that stop glibc from mmap'ing (and unmapping) every
   * buffer of 128 KiB+, see MALLOC_TUNED */
  malloc: 'default' | 'tuned'
  /** side kind, rec=async: records being encrypted / decrypted at once */
  depth: number
}

const KiB = 1024
const MiB = 1024 * KiB

/** keep buffers up to 8 MiB on the heap and do not give freed memory back at once */
const MALLOC_TUNED = 'glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=268435456'

const PRESETS: Record<string, string> = {
  tcp: 'tcp:write=1m',
  'tcp-64k': 'tcp:write=64k',
  'tcp-onread': 'tcp:write=1m:onread=true',
  'tcp-stream-64k': 'tcp-stream:write=64k',
  'tcp-stream-1m': 'tcp-stream:write=1m',
  'libp2p-stock': 'libp2p:write=64k',
  'libp2p-4streams': 'libp2p:write=64k:streams=4',
  // best found on the 2-core loopback machine, see docs/p2p-throughput.md
  'libp2p-best': 'libp2p:write=1m:iwindow=16m',
  'side-aes': 'side:write=1m:cipher=aes-256-gcm',
  'side-chacha': 'side:write=1m:cipher=chacha20-poly1305',
  'side-chacha-tuned': 'side:write=1m:cipher=chacha20-poly1305:malloc=tuned',
  'side-plain-tuned': 'side:write=1m:rec=plain:malloc=tuned',
  'tcp-tuned': 'tcp:write=1m:malloc=tuned',
  'libp2p-best-tuned': 'libp2p:write=1m:iwindow=16m:malloc=tuned',
  'side-async': 'side:write=1m:rec=async',
  'side-tls-psk': 'side:write=1m:rec=tls:cipher=aes-256-gcm'
}
const DEFAULT_PATHS = ['tcp', 'tcp-onread', 'libp2p-stock', 'libp2p-best', 'side-chacha', 'side-chacha-tuned', 'side-plain-tuned']

function parseSize (text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(text.trim())
  if (m == null) throw new Error(`bad size: ${text}`)
  const n = Number(m[1])
  const unit = (m[2] ?? 'b').toLowerCase()
  const mult: Record<string, number> = {
    b: 1, k: KiB, kb: 1e3, ki: KiB, kib: KiB, m: MiB, mb: 1e6, mi: MiB, mib: MiB, g: 1024 * MiB, gb: 1e9, gi: 1024 * MiB, gib: 1024 * MiB
  }
  const f = mult[unit]
  if (f === undefined) throw new Error(`bad size unit: ${text}`)
  return Math.round(n * f)
}

function parseSpec (text: string): PathSpec {
  const preset = PRESETS[text]
  const [kind, ...pairs] = (preset ?? text).split(':')
  if (kind !== 'tcp' && kind !== 'tcp-stream' && kind !== 'libp2p' && kind !== 'side') {
    throw new Error(`unknown path "${text}" (presets: ${Object.keys(PRESETS).join(', ')})`)
  }
  const spec: PathSpec = { name: text, kind, write: 64 * KiB, conns: 1, streams: 1, crypto: 'default', enc: 'noise', mux: 'yamux', nodelay: true, cipher: 'aes-256-gcm', rec: 'aead', onread: kind === 'side', slice: 256 * KiB, rbuf: 1 * MiB, depth: 4, malloc: 'default' }
  for (const pair of pairs) {
    const [key, value = ''] = pair.split('=')
    switch (key) {
      case 'write': spec.write = parseSize(value); break
      case 'conns': spec.conns = Number(value); break
      case 'streams': spec.streams = Number(value); break
      case 'window': spec.window = parseSize(value); break
      case 'iwindow': spec.iwindow = parseSize(value); break
      case 'nodelay': spec.nodelay = value !== 'false'; break
      case 'crypto':
        if (value !== 'default' && value !== 'node' && value !== 'js' && value !== 'concat') throw new Error(`bad crypto: ${value}`)
        spec.crypto = value
        break
      case 'enc':
        if (value !== 'noise' && value !== 'tls') throw new Error(`bad enc: ${value}`)
        spec.enc = value
        break
      case 'mux':
        if (value !== 'yamux' && value !== 'mplex') throw new Error(`bad mux: ${value}`)
        spec.mux = value
        break
      case 'onread': spec.onread = value !== 'false'; break
      case 'slice': spec.slice = parseSize(value); break
      case 'depth': spec.depth = Number(value); break
      case 'malloc':
        if (value !== 'default' && value !== 'tuned') throw new Error(`bad malloc: ${value}`)
        spec.malloc = value
        break
      case 'rbuf': spec.rbuf = parseSize(value); break
      case 'rec':
        if (value !== 'aead' && value !== 'async' && value !== 'tls' && value !== 'plain') throw new Error(`bad rec: ${value}`)
        spec.rec = value
        break
      case 'cipher':
        if (value !== 'aes-256-gcm' && value !== 'chacha20-poly1305') throw new Error(`bad cipher: ${value}`)
        spec.cipher = value
        break
      default: throw new Error(`unknown key "${key ?? ''}" in path "${text}"`)
    }
  }
  if (!(spec.conns >= 1 && spec.streams >= 1 && spec.write >= 1 && spec.depth >= 1)) throw new Error(`bad path: ${text}`)
  if (spec.rec === 'async' && spec.cipher !== 'aes-256-gcm') throw new Error('rec=async is AES-256-GCM only (WebCrypto has no ChaCha20-Poly1305 on Node 20)')
  return spec
}

// ---------------------------------------------------------------------------------------------
// child-side helpers

const LINE_PREFIX = '@bench '
const PROTOCOL = '/damselfly/bench-p2p/1.0.0'
const SIDE_PROTOCOL = '/damselfly/bench-side-key/1.0.0'

function hr (): bigint { return process.hrtime.bigint() }

function report (msg: Record<string, unknown>): void {
  process.stdout.write(LINE_PREFIX + JSON.stringify(msg, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v) + '\n')
}

interface Deferred<T> { promise: Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void }
function deferred<T> (): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** Byte share of stream `i` out of `n` streams for `total` bytes. */
function share (total: number, n: number, i: number): number {
  const base = Math.floor(total / n)
  return i === n - 1 ? total - base * (n - 1) : base
}

function makePayload (write: number): Buffer {
  // deterministic, not all-zero: xorshift fill
  const buf = Buffer.allocUnsafe(write)
  let x = 0x9e3779b9
  for (let i = 0; i < write; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    buf[i] = x & 0xff
  }
  return buf
}

/**
 * CPU profile of the transfer only (not start-up): the V8 sampling profiler through the inspector,
 * written as a .cpuprofile that Chrome DevTools opens.
 */
async function startProfiler (file: string | undefined): Promise<() => Promise<void>> {
  if (file === undefined) return async () => {}
  const { Session } = await import('node:inspector/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}

class Meter {
  private readonly cpu0: NodeJS.CpuUsage
  private readonly t0: bigint
  constructor () { this.cpu0 = process.cpuUsage(); this.t0 = hr() }
  finish (): { cpuSeconds: number, wallSeconds: number, cpuPercent: number } {
    const cpu = process.cpuUsage(this.cpu0)
    const wall = Number(hr() - this.t0) / 1e9
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    return { cpuSeconds, wallSeconds: wall, cpuPercent: Math.round(100 * cpuSeconds / wall) }
  }
}

function peakRssMB (): number {
  return Math.round(process.resourceUsage().maxRSS * 1024 / 1e6)
}

function byteLength (chunk: { byteLength: number }): number { return chunk.byteLength }

/** noise's default crypto, except that an encrypted message comes back as one contiguous Buffer */
const concatCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < 1200) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: TAG_LEN })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    const parts: Buffer[] = []
    for (const buf of plaintext instanceof Uint8Array ? [plaintext] : plaintext) parts.push(cipher.update(buf))
    parts.push(cipher.final(), cipher.getAuthTag())
    return Buffer.concat(parts)
  }
}

async function makeNode (spec: PathSpec, listen: boolean): Promise<Libp2p> {
  const crypto: ICryptoInterface | undefined = spec.crypto === 'js'
    ? pureJsCrypto
    : spec.crypto === 'node'
      ? { ...defaultCrypto, chaCha20Poly1305Encrypt: nodeCrypto.chaCha20Poly1305Encrypt, chaCha20Poly1305Decrypt: nodeCrypto.chaCha20Poly1305Decrypt }
      : spec.crypto === 'concat' ? concatCrypto : undefined
  const streamOptions: { initialStreamWindowSize?: number, maxStreamWindowSize?: number } = {}
  if (spec.iwindow !== undefined) streamOptions.initialStreamWindowSize = spec.iwindow
  if (spec.window !== undefined) streamOptions.maxStreamWindowSize = Math.max(spec.window, spec.iwindow ?? 0)
  // optional alternatives, loaded by name so that the project does not depend on them
  const optional = async (name: string, factory: string): Promise<any> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const mod = await import(name) as Record<string, () => unknown>
    const f = mod[factory]
    if (f === undefined) throw new Error(`${name} has no ${factory}()`)
    return f()
  }
  return await createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp({ dialOpts: { noDelay: spec.nodelay }, listenOpts: { noDelay: spec.nodelay } })],
    connectionEncrypters: [spec.enc === 'tls' ? await optional('@libp2p/tls', 'tls') : noise(crypto === undefined ? {} : { crypto })],
    streamMuxers: [spec.mux === 'mplex' ? await optional('@libp2p/mplex', 'mplex') : yamux({ streamOptions })],
    connectionManager: { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 100 }
  })
}

interface Hasher { update: (chunk: Uint8Array) => void, digest: () => string }
function makeHasher (verify: boolean): Hasher {
  if (!verify) return { update: () => {}, digest: () => '' }
  const h: Hash = createHash('sha256')
  return { update: (c) => { h.update(c) }, digest: () => h.digest('hex') }
}

/** Receiver-side bookkeeping shared by all paths. */
class Sink {
  received = 0
  tFirst: bigint | undefined
  tEnd: bigint | undefined
  meter: Meter | undefined
  readonly digests: string[] = []
  readonly done = deferred<void>()
  constructor (private readonly size: number) {}
  add (n: number): void {
    if (this.tFirst === undefined) { this.tFirst = hr(); this.meter = new Meter() }
    this.received += n
    if (this.received >= this.size && this.tEnd === undefined) {
      this.tEnd = hr()
      this.done.resolve()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// side channel: key exchange over a noise-secured libp2p stream, payload over plain TCP in AEAD
// records. Record = 4-byte header (bit 31: final record, bits 0-30: plaintext length) +
// ciphertext + 16-byte tag; AAD = header; nonce = 4 zero bytes || 64-bit big-endian record
// counter (implicit, never sent); one fresh key per data connection and direction.

const SID_LEN = 16
const TAG_LEN = 16
const FINAL_FLAG = 0x80000000


function deriveKey (senderRandom: Uint8Array, receiverRandom: Uint8Array, sid: Uint8Array, senderPeer: string, receiverPeer: string): Buffer {
  const info = Buffer.from(`damselfly-data/1 ${senderPeer}>${receiverPeer} sender-to-receiver`)
  return Buffer.from(hkdfSync('sha256', Buffer.concat([senderRandom, receiverRandom]), sid, info, 32))
}

function nonceFor (seq: bigint): Buffer {
  const n = Buffer.alloc(12)
  n.writeBigUInt64BE(seq, 4)
  return n
}

class RecordReader {
  private state: 'header' | 'body' | 'tag' | 'closed' = 'header'
  private readonly small = Buffer.alloc(TAG_LEN)
  private smallLen = 0
  private decipher: DecipherGCM | undefined
  private bodyLeft = 0
  private final = false
  private seq = 0n
  private pending: Buffer[] = []
  constructor (
    private readonly cipher: AeadCipher,
    private readonly key: Buffer,
    private readonly deliver: (plaintext: Buffer) => void,
    private readonly onEnd: () => void,
    private readonly slice: number
  ) {}

  get ended (): boolean { return this.state === 'closed' }

  private fill (chunk: Buffer, off: number, need: number): number {
    const take = Math.min(need - this.smallLen, chunk.length - off)
    chunk.copy(this.small, this.smallLen, off, off + take)
    this.smallLen += take
    return take
  }

  /** `chunk` may be a reused read buffer: nothing of it is kept after push() returns */
  push (chunk: Buffer): void {
    let off = 0
    while (off < chunk.length) {
      switch (this.state) {
        case 'header': {
          off += this.fill(chunk, off, 4)
          if (this.smallLen < 4) break
          const header = Buffer.from(this.small.subarray(0, 4))
          const word = header.readUInt32BE(0)
          this.final = (word & FINAL_FLAG) !== 0
          this.bodyLeft = word & ~FINAL_FLAG
          this.decipher = createDecipheriv(this.cipher as CipherGCMTypes, this.key, nonceFor(this.seq), { authTagLength: TAG_LEN })
          this.decipher.setAAD(header)
          this.smallLen = 0
          this.state = this.bodyLeft > 0 ? 'body' : 'tag'
          break
        }
        case 'body': {
          // (at most `slice` bytes per update(): a large output buffer per call is slow, see sendRecords)
          const take = Math.min(this.bodyLeft, chunk.length - off, this.slice)
          // streaming decrypt; the plaintext is held back until the tag has been checked
          this.pending.push(this.decipher!.update(chunk.subarray(off, off + take))) // eslint-disable-line @typescript-eslint/no-non-null-assertion
          off += take
          this.bodyLeft -= take
          if (this.bodyLeft === 0) this.state = 'tag'
          break
        }
        case 'tag': {
          off += this.fill(chunk, off, TAG_LEN)
          if (this.smallLen < TAG_LEN) break
          const decipher = this.decipher
          if (decipher === undefined) throw new Error('no decipher')
          decipher.setAuthTag(Buffer.from(this.small.subarray(0, TAG_LEN)))
          const last = decipher.final() // throws if the record was forged, replayed, reordered or truncated
          if (last.length > 0) this.pending.push(last)
          for (const p of this.pending) this.deliver(p)
          this.pending = []
          this.seq++
          this.smallLen = 0
          if (this.final) {
            this.state = 'closed'
            this.onEnd()
            if (off < chunk.length) throw new Error('data after final record')
            return
          }
          this.state = 'header'
          break
        }
        case 'closed':
          throw new Error('data after final record')
      }
    }
  }
}

type AesKey = webcrypto.CryptoKey

async function importAesKey (key: Buffer, use: 'encrypt' | 'decrypt'): Promise<AesKey> {
  return await webcrypto.subtle.importKey('raw', key, { name: 'AES-GCM' }, false, [use])
}

function aesParams (seq: bigint, header: Buffer): webcrypto.AesGcmParams {
  return { name: 'AES-GCM', iv: nonceFor(seq), additionalData: header, tagLength: TAG_LEN * 8 }
}

/**
 * The same record format, AES-256-GCM through WebCrypto: each encrypt/decrypt is a job on the libuv
 * thread pool, so up to `depth` records are sealed or opened off the event loop, in parallel with
 * the socket work. WebCrypto's output is ciphertext || tag, the record layout itself.
 */
async function sendRecordsAsync (sock: net.Socket, key: AesKey, payload: Buffer, bytes: number, hasher: Hasher, depth: number): Promise<void> {
  const queue: Array<{ header: Buffer, sealed: Promise<ArrayBuffer> }> = []
  let seq = 0n
  let left = bytes
  while (left > 0 || queue.length > 0) {
    while (left > 0 && queue.length < depth) {
      const n = Math.min(payload.length, left)
      left -= n
      const header = Buffer.allocUnsafe(4)
      header.writeUInt32BE(((left === 0 ? FINAL_FLAG : 0) | n) >>> 0, 0)
      const plain = n === payload.length ? payload : payload.subarray(0, n)
      hasher.update(plain)
      queue.push({ header, sealed: webcrypto.subtle.encrypt(aesParams(seq++, header), key, plain) })
    }
    const next = queue.shift()
    if (next === undefined) break
    const sealed = Buffer.from(await next.sealed)
    sock.cork()
    sock.write(next.header)
    const ok = sock.write(sealed)
    sock.uncork()
    if (!ok && sock.writableLength > 4 * MiB) await once(sock, 'drain')
  }
  sock.end()
  await once(sock, 'finish')
}

class AsyncRecordReader {
  private readonly header = Buffer.alloc(4)
  private headerLen = 0
  private body: Buffer | undefined
  private bodyLen = 0
  private final = false
  private seq = 0n
  private done = false
  private readonly queue: Array<{ opened: Promise<ArrayBuffer>, final: boolean }> = []
  private delivering = false
  onRoom: () => void = () => {}
  constructor (
    private readonly key: AesKey,
    private readonly depth: number,
    private readonly deliver: (plaintext: Buffer) => void,
    private readonly onEnd: () => void,
    private readonly fail: (err: unknown) => void
  ) {}

  get ended (): boolean { return this.done }

  /** returns false when `depth` records are being decrypted: the caller pauses the socket */
  push (chunk: Buffer): boolean {
    let off = 0
    while (off < chunk.length) {
      if (this.done) throw new Error('data after final record')
      if (this.body === undefined) {
        const take = Math.min(4 - this.headerLen, chunk.length - off)
        chunk.copy(this.header, this.headerLen, off, off + take)
        this.headerLen += take
        off += take
        if (this.headerLen < 4) break
        const word = this.header.readUInt32BE(0)
        this.final = (word & FINAL_FLAG) !== 0
        this.body = Buffer.allocUnsafe((word & ~FINAL_FLAG) + TAG_LEN)
        this.bodyLen = 0
        continue
      }
      // one copy into the record buffer: WebCrypto needs the whole record at once
      const take = Math.min(this.body.length - this.bodyLen, chunk.length - off)
      chunk.copy(this.body, this.bodyLen, off, off + take)
      this.bodyLen += take
      off += take
      if (this.bodyLen < this.body.length) break
      const header = Buffer.from(this.header)
      this.queue.push({ opened: webcrypto.subtle.decrypt(aesParams(this.seq++, header), this.key, this.body), final: this.final })
      if (this.final) this.done = true
      this.body = undefined
      this.headerLen = 0
      void this.drain()
    }
    return this.queue.length < this.depth
  }

  private async drain (): Promise<void> {
    if (this.delivering) return
    this.delivering = true
    try {
      while (this.queue.length > 0) {
        const next = this.queue[0]
        if (next === undefined) break
        // rejects (OperationError) if a record was forged, replayed, reordered or truncated
        const plain = Buffer.from(await next.opened)
        this.queue.shift()
        this.deliver(plain)
        if (next.final) this.onEnd()
        if (this.queue.length === this.depth - 1) this.onRoom()
      }
    } catch (err) {
      this.fail(err)
    } finally {
      this.delivering = false
    }
  }
}

function tlsPskCiphers (cipher: AeadCipher): string {
  return cipher === 'aes-256-gcm' ? 'PSK-AES256-GCM-SHA384' : 'ECDHE-PSK-CHACHA20-POLY1305'
}

async function sendRecords (sock: net.Socket, key: Buffer, cipher: AeadCipher, payload: Buffer, bytes: number, hasher: Hasher, slice: number): Promise<void> {
  let seq = 0n
  let left = bytes
  while (left > 0) {
    const n = Math.min(payload.length, left)
    left -= n
    const header = Buffer.allocUnsafe(4)
    header.writeUInt32BE(((left === 0 ? FINAL_FLAG : 0) | n) >>> 0, 0)
    const c: CipherGCM = createCipheriv(cipher as CipherGCMTypes, key, nonceFor(seq++), { authTagLength: TAG_LEN })
    c.setAAD(header)
    const plain = n === payload.length ? payload : payload.subarray(0, n)
    hasher.update(plain)
    // update() in slices (256 KiB): one update() over 1 MiB ran 2-4x slower here (each call
    // allocates its output; 1 MiB outputs are fresh mmap'd pages), see docs/p2p-throughput.md
    const body: Buffer[] = []
    for (let o = 0; o < n; o += slice) body.push(c.update(plain.subarray(o, Math.min(n, o + slice))))
    c.final()
    sock.cork()
    sock.write(header)
    for (const b of body) sock.write(b)
    const ok = sock.write(c.getAuthTag())
    sock.uncork()
    if (!ok && sock.writableLength > 4 * MiB) await once(sock, 'drain')
  }
  sock.end()
  await once(sock, 'finish')
}

// ---------------------------------------------------------------------------------------------
// receiver (the downloader) and sender (the uploader)
//
// tcp kinds: the sender listens and the receiver connects, as a downloader fetches from an
//   uploader; connecting lets the receiver read with `onread` into one reused buffer.
// libp2p kind: the receiver listens, the sender dials and opens the streams.
// side kind: the receiver listens for libp2p; the sender dials it and, per data connection, runs a
//   key exchange on a libp2p stream (hello: sender random, session id, data port; reply: receiver
//   random; go-ahead); the receiver then connects to the sender's data port and presents the
//   session id.

interface Target { port?: number, addr?: string }

function hostOf (conn: Connection): string {
  return conn.remoteAddr.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value ?? '127.0.0.1'
}

/** Connect for receiving; with spec.onread, socket reads land in one reused buffer (no allocation). */
function connectReceiving (spec: PathSpec, port: number, host: string, onChunk: (chunk: Buffer) => boolean | undefined): net.Socket {
  if (spec.onread) {
    const buffer = Buffer.allocUnsafe(spec.rbuf)
    // returning false pauses the socket (the async reader does so while its queue is full)
    return net.connect({ port, host, onread: { buffer, callback: (n: number) => onChunk(buffer.subarray(0, n)) !== false } })
  }
  const sock = net.connect(port, host)
  sock.on('data', (chunk: Buffer) => { if (onChunk(chunk) === false) sock.pause() })
  return sock
}

async function readExactly (sock: net.Socket, n: number): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let have = 0
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      have += chunk.length
      if (have < n) return
      sock.off('data', onData)
      sock.pause()
      const all = Buffer.concat(chunks)
      if (all.length > n) sock.unshift(all.subarray(n))
      resolve(all.subarray(0, n))
    }
    sock.on('data', onData)
    sock.once('error', reject)
  })
}

async function runReceiver (spec: PathSpec, size: number, target: Target, verify: boolean, profFile: string | undefined): Promise<void> {
  const sink = new Sink(size)
  if (process.env.BENCH_DEBUG !== undefined) {
    setInterval(() => { process.stderr.write(`receiver: ${sink.received} bytes\n`) }, 1000).unref()
  }
  let close: () => Promise<void> = async () => {}
  let stopProfiler: () => Promise<void> = async () => {}
  const fail = (err: unknown): void => { sink.done.reject(err) }

  if (spec.kind === 'tcp' || spec.kind === 'tcp-stream') {
    // the sender is listening on target.port already
    const socks: net.Socket[] = []
    close = async () => { for (const s of socks) s.destroy() }
    stopProfiler = await startProfiler(profFile)
    for (let i = 0; i < spec.conns; i++) {
      const hasher = makeHasher(verify)
      let sock: net.Socket
      if (spec.kind === 'tcp') {
        sock = connectReceiving(spec, target.port ?? 0, '127.0.0.1', chunk => { hasher.update(chunk); sink.add(chunk.length); return true })
        sock.on('end', () => { sink.digests.push(hasher.digest()) })
      } else {
        const s = net.connect(target.port ?? 0, '127.0.0.1')
        sock = s
        void (async () => {
          for await (const chunk of s) { hasher.update(chunk as Buffer); sink.add((chunk as Buffer).length) }
          sink.digests.push(hasher.digest())
        })().catch(fail)
      }
      sock.on('error', fail)
      await once(sock, 'connect')
      socks.push(sock)
    }
    report({ type: 'ready', target: {} })
  } else if (spec.kind === 'libp2p') {
    const node = await makeNode(spec, true)
    await node.handle(PROTOCOL, async (stream: Stream) => {
      const hasher = makeHasher(verify)
      try {
        for await (const chunk of stream) {
          if (verify) hasher.update(chunk instanceof Uint8Array ? chunk : chunk.subarray())
          sink.add(byteLength(chunk))
        }
        sink.digests.push(hasher.digest())
      } catch (err) { fail(err) }
    }, { maxInboundStreams: 1024 })
    close = async () => { await node.stop() }
    stopProfiler = await startProfiler(profFile)
    report({ type: 'ready', target: { addr: node.getMultiaddrs()[0]?.toString() } })
  } else {
    const node = await makeNode(parseSpec('libp2p-stock'), true)
    const socks: net.Socket[] = []
    await node.handle(SIDE_PROTOCOL, async (stream: Stream, connection: Connection) => {
      try {
        const lp = lpStream(stream)
        const hello = Buffer.from((await lp.read()).subarray())
        if (hello.length !== 32 + SID_LEN + 2) throw new Error('bad key exchange hello')
        const senderRandom = hello.subarray(0, 32)
        const sid = hello.subarray(32, 32 + SID_LEN)
        const port = hello.readUInt16BE(32 + SID_LEN)
        const receiverRandom = randomBytes(32)
        // the key is bound to both peer ids as the noise handshake authenticated them
        const key = deriveKey(senderRandom, receiverRandom, sid, connection.remotePeer.toString(), node.peerId.toString())
        await lp.write(receiverRandom)
        await lp.read() // the sender's go-ahead: it holds the key now
        await stream.close()
        const host = hostOf(connection)
        const hasher = makeHasher(verify)
        if (spec.rec === 'tls') {
          const sock = tls.connect({
            host,
            port,
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.2',
            ciphers: tlsPskCiphers(spec.cipher),
            pskCallback: () => ({ psk: key, identity: sid.toString('hex') }),
            checkServerIdentity: () => undefined
          })
          sock.on('data', (chunk: Buffer) => { hasher.update(chunk); sink.add(chunk.length) })
          sock.on('end', () => { sink.digests.push(hasher.digest()) })
          sock.on('error', fail)
          socks.push(sock)
        } else if (spec.rec === 'plain') {
          const sock: net.Socket = connectReceiving(spec, port, host, chunk => { hasher.update(chunk); sink.add(chunk.length); return true })
          sock.on('connect', () => { sock.setNoDelay(true); sock.write(sid) })
          sock.on('end', () => { sink.digests.push(hasher.digest()) })
          sock.on('error', fail)
          socks.push(sock)
        } else if (spec.rec === 'async') {
          const reader = new AsyncRecordReader(await importAesKey(key, 'decrypt'), spec.depth, plain => { hasher.update(plain); sink.add(plain.length) }, () => { sink.digests.push(hasher.digest()) }, fail)
          const sock: net.Socket = connectReceiving(spec, port, host, chunk => {
            try { return reader.push(chunk) } catch (err) { sock.destroy(); fail(err); return false }
          })
          reader.onRoom = () => { sock.resume() }
          sock.on('connect', () => { sock.setNoDelay(true); sock.write(sid) })
          sock.on('end', () => { if (!reader.ended) fail(new Error('data connection ended before the final record')) })
          sock.on('error', fail)
          socks.push(sock)
        } else {
          const reader = new RecordReader(spec.cipher, key, plain => { hasher.update(plain); sink.add(plain.length) }, () => { sink.digests.push(hasher.digest()) }, spec.slice)
          const sock: net.Socket = connectReceiving(spec, port, host, chunk => {
            try { reader.push(chunk) } catch (err) { sock.destroy(); fail(err) }
            return true
          })
          sock.on('connect', () => { sock.setNoDelay(true); sock.write(sid) })
          sock.on('end', () => { if (!reader.ended) fail(new Error('data connection ended before the final record')) })
          sock.on('error', fail)
          socks.push(sock)
        }
      } catch (err) { fail(err) }
    }, { maxInboundStreams: 1024 })
    close = async () => { for (const s of socks) s.destroy(); await node.stop() }
    stopProfiler = await startProfiler(profFile)
    report({ type: 'ready', target: { addr: node.getMultiaddrs()[0]?.toString() } })
  }

  await sink.done.promise
  const usage = sink.meter?.finish()
  await stopProfiler()
  report({ type: 'done', received: sink.received, tFirst: sink.tFirst, tEnd: sink.tEnd, cpu: usage, peakRssMB: peakRssMB() })
  // give the per-stream digests a moment to land (they are pushed when each stream ends)
  if (verify) {
    const until = Date.now() + 5000
    while (sink.digests.length < spec.conns * (spec.kind === 'libp2p' ? spec.streams : 1) && Date.now() < until) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    report({ type: 'digests', digests: sink.digests })
  }
  await Promise.race([close(), new Promise(resolve => setTimeout(resolve, 2000))])
}

async function untilNoConnections (node: Libp2p, maxMs = 60_000): Promise<void> {
  const until = Date.now() + maxMs
  while (node.getConnections().length > 0 && Date.now() < until) {
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function writeAll (sock: net.Socket, payload: Buffer, bytes: number, hasher: Hasher): Promise<void> {
  let left = bytes
  while (left > 0) {
    const n = Math.min(payload.length, left)
    left -= n
    const chunk = n === payload.length ? payload : payload.subarray(0, n)
    hasher.update(chunk)
    if (!sock.write(chunk)) await once(sock, 'drain')
  }
  sock.end()
  await once(sock, 'finish')
}

async function runSender (spec: PathSpec, size: number, target: Target, verify: boolean, profFile: string | undefined): Promise<void> {
  const payload = makePayload(spec.write)
  const digests: string[] = []
  let meter: Meter | undefined
  let t0 = 0n
  const begin = (): void => { t0 = hr(); meter = new Meter(); report({ type: 'start', t0 }) }
  let close: () => Promise<void> = async () => {}
  let waitClosed: () => Promise<void> = async () => {}
  let stopProfiler: () => Promise<void> = async () => {}

  if (spec.kind === 'tcp' || spec.kind === 'tcp-stream') {
    const accepted: net.Socket[] = []
    const all = deferred<void>()
    const server = net.createServer(sock => {
      accepted.push(sock)
      if (accepted.length === spec.conns) all.resolve()
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    close = async () => { server.close() }
    report({ type: 'ready', target: { port: (server.address() as net.AddressInfo).port } })
    await all.promise
    stopProfiler = await startProfiler(profFile)
    begin()
    await Promise.all(accepted.map(async (sock, i) => {
      const bytes = share(size, accepted.length, i)
      const hasher = makeHasher(verify)
      if (spec.kind === 'tcp') {
        await writeAll(sock, payload, bytes, hasher)
      } else {
        const chunks = function * (): Generator<Buffer> {
          let left = bytes
          while (left > 0) {
            const n = Math.min(payload.length, left)
            left -= n
            const chunk = n === payload.length ? payload : payload.subarray(0, n)
            hasher.update(chunk)
            yield chunk
          }
        }
        await pipeline(Readable.from(chunks()), sock)
      }
      digests.push(hasher.digest())
    }))
  } else if (spec.kind === 'libp2p') {
    const node = await makeNode(spec, false)
    close = async () => { await node.stop() }
    waitClosed = async () => { await untilNoConnections(node) }
    const ma = multiaddr(target.addr ?? '')
    const conns: Connection[] = []
    for (let i = 0; i < spec.conns; i++) {
      // a second connection to an already connected peer is only opened with force: true
      conns.push(await node.dial(ma, { force: i > 0 }))
    }
    if (new Set(conns.map(c => c.id)).size !== spec.conns) throw new Error('libp2p reused a connection')
    const streams: Stream[] = []
    for (const conn of conns) {
      for (let j = 0; j < spec.streams; j++) streams.push(await conn.newStream(PROTOCOL))
    }
    stopProfiler = await startProfiler(profFile)
    begin()
    await Promise.all(streams.map(async (stream, i) => {
      const hasher = makeHasher(verify)
      let left = share(size, streams.length, i)
      while (left > 0) {
        const n = Math.min(payload.length, left)
        left -= n
        const chunk = n === payload.length ? payload : payload.subarray(0, n)
        hasher.update(chunk)
        if (!stream.send(chunk)) {
          await stream.onDrain().catch((evt: unknown) => {
            throw evt instanceof Error ? evt : new Error(`stream failed: ${String((evt as { error?: unknown }).error ?? evt)}`)
          })
        }
      }
      await stream.close()
      digests.push(hasher.digest())
    }))
  } else {
    const node = await makeNode(parseSpec('libp2p-stock'), false)
    waitClosed = async () => { await untilNoConnections(node) }
    // session id -> key; single use, so a replayed or second connection finds nothing
    const sessions = new Map<string, Buffer>()
    const takeKey = (sid: string): Buffer | undefined => {
      const key = sessions.get(sid)
      sessions.delete(sid)
      return key
    }
    const channels: Array<{ sock: net.Socket, key: Buffer }> = []
    const allConnected = deferred<void>()
    const addChannel = (sock: net.Socket, key: Buffer): void => {
      channels.push({ sock, key })
      if (channels.length === spec.conns) allConnected.resolve()
    }
    const server: net.Server = spec.rec === 'tls'
      ? tls.createServer({
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: tlsPskCiphers(spec.cipher),
        pskCallback: (_socket, identity) => takeKey(identity) ?? null
      }, sock => { sock.setNoDelay(true); addChannel(sock, Buffer.alloc(0)) })
      : net.createServer(sock => {
        sock.setNoDelay(true)
        void readExactly(sock, SID_LEN).then(sid => {
          const key = takeKey(sid.toString('hex'))
          if (key === undefined) { sock.destroy(); return }
          addChannel(sock, key)
        }).catch(() => { sock.destroy() })
      })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as net.AddressInfo).port
    close = async () => { server.close(); await node.stop() }
    const conn = await node.dial(multiaddr(target.addr ?? ''))
    for (let i = 0; i < spec.conns; i++) {
      // one key exchange, so one key, per data connection
      const stream = await conn.newStream(SIDE_PROTOCOL)
      const lp = lpStream(stream)
      const senderRandom = randomBytes(32)
      const sid = randomBytes(SID_LEN)
      const portBytes = Buffer.alloc(2)
      portBytes.writeUInt16BE(port)
      await lp.write(Buffer.concat([senderRandom, sid, portBytes]))
      const receiverRandom = (await lp.read()).subarray()
      if (receiverRandom.length !== 32) throw new Error('bad key exchange reply')
      sessions.set(sid.toString('hex'), deriveKey(senderRandom, receiverRandom, sid, node.peerId.toString(), conn.remotePeer.toString()))
      await lp.write(Uint8Array.of(1)) // go: the receiver may connect now
      await stream.close()
    }
    await allConnected.promise
    stopProfiler = await startProfiler(profFile)
    begin()
    await Promise.all(channels.map(async ({ sock, key }, i) => {
      const hasher = makeHasher(verify)
      const bytes = share(size, channels.length, i)
      // TLS frames the bytes itself (16 KiB records, OpenSSL AEAD, sequence numbers in the nonce)
      if (spec.rec === 'tls' || spec.rec === 'plain') await writeAll(sock, payload, bytes, hasher)
      else if (spec.rec === 'async') await sendRecordsAsync(sock, await importAesKey(key, 'encrypt'), payload, bytes, hasher, spec.depth)
      else await sendRecords(sock, key, spec.cipher, payload, bytes, hasher, spec.slice)
      digests.push(hasher.digest())
    }))
  }
  const usage = meter?.finish()
  await stopProfiler()
  report({ type: 'done', t0, cpu: usage, peakRssMB: peakRssMB(), digests: verify ? digests : undefined })
  // stream.close() resolves once the bytes are queued, not delivered: stopping the node now could
  // drop the tail of the transfer. Wait until the receiver, having counted everything, hangs up.
  await waitClosed()
  await Promise.race([close(), new Promise(resolve => setTimeout(resolve, 2000))])
}

// ---------------------------------------------------------------------------------------------
// orchestrator

interface RunResult {
  mbps: number
  seconds: number
  senderPeakRssMB: number
  receiverPeakRssMB: number
  senderCpuPercent: number
  receiverCpuPercent: number
  /** CPU (in cores) used on the machine by anything else during the transfer, approximate */
  otherLoadCores: number
  /** how many tries it took to get a run with little foreign load */
  attempts?: number
  verified?: boolean
}

interface PathResult {
  path: string
  spec: PathSpec
  runs: RunResult[]
  median: RunResult
}

function readCpuTicks (): { busy: number, total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  const idle = (f[3] ?? 0) + (f[4] ?? 0)
  return { busy: total - idle, total }
}

async function machineBusy (ms: number): Promise<number> {
  const a = readCpuTicks()
  await new Promise(resolve => setTimeout(resolve, ms))
  const b = readCpuTicks()
  return (b.busy - a.busy) / Math.max(1, b.total - a.total)
}

async function waitIdle (maxSeconds: number): Promise<number> {
  const until = Date.now() + maxSeconds * 1000
  let busy = await machineBusy(500)
  while (busy > 0.1 && Date.now() < until) busy = await machineBusy(500)
  return busy
}

interface Child {
  messages: Array<Record<string, unknown>>
  next: (type: string) => Promise<Record<string, unknown>>
  exited: Promise<number | null>
  kill: () => void
}

function startChild (args: string[], profDir: string | undefined, profName: string, env: NodeJS.ProcessEnv): Child {
  const profArgs = profDir === undefined ? [] : ['--prof-file', join(profDir, `${profName}.cpuprofile`)]
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args, ...profArgs], { stdio: ['ignore', 'pipe', 'inherit'], env })
  const messages: Array<Record<string, unknown>> = []
  const waiters: Array<{ type: string, d: Deferred<Record<string, unknown>> }> = []
  const exited = deferred<number | null>()
  child.on('exit', code => {
    exited.resolve(code)
    for (const w of waiters) w.d.reject(new Error(`child exited (${String(code)}) before "${w.type}"`))
  })
  createInterface({ input: child.stdout }).on('line', line => {
    if (!line.startsWith(LINE_PREFIX)) { process.stderr.write(line + '\n'); return }
    const msg = JSON.parse(line.slice(LINE_PREFIX.length)) as Record<string, unknown>
    messages.push(msg)
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]
      if (w !== undefined && w.type === msg.type) { waiters.splice(i, 1); w.d.resolve(msg) }
    }
  })
  return {
    messages,
    exited: exited.promise,
    kill: () => { if (child.exitCode === null) child.kill('SIGKILL') },
    next: async (type: string) => {
      const seen = messages.find(m => m.type === type)
      if (seen !== undefined) return seen
      const d = deferred<Record<string, unknown>>()
      waiters.push({ type, d })
      return await d.promise
    }
  }
}

async function runOnce (spec: PathSpec, size: number, verify: boolean, profDir: string | undefined, run: number): Promise<RunResult> {
  const common = ['--spec', JSON.stringify(spec), '--size', String(size), ...(verify ? ['--verify'] : [])]
  const tag = `${spec.name.replace(/[^a-z0-9=.-]+/gi, '_')}.run${run}`
  // tcp kinds: the sender (uploader) listens and the receiver connects; otherwise the other way
  const senderFirst = spec.kind === 'tcp' || spec.kind === 'tcp-stream'
  const [firstRole, secondRole] = senderFirst ? ['sender', 'receiver'] : ['receiver', 'sender']
  const env = spec.malloc === 'tuned' ? { ...process.env, GLIBC_TUNABLES: MALLOC_TUNED } : process.env
  const first = startChild(['--role', firstRole, ...common], profDir, `${tag}.${firstRole}`, env)
  let second: Child | undefined
  const timeoutMs = Math.max(60_000, size / 20e6 * 1000)
  const timer = setTimeout(() => { first.kill(); second?.kill() }, timeoutMs)
  try {
    const ready = await first.next('ready')
    second = startChild(['--role', secondRole, ...common, '--target', JSON.stringify(ready.target)], profDir, `${tag}.${secondRole}`, env)
    const sender = senderFirst ? first : second
    const receiver = senderFirst ? second : first
    await sender.next('start')
    const ticks0 = readCpuTicks()
    const rdone = await receiver.next('done')
    const ticks1 = readCpuTicks()
    const sdone = await sender.next('done')
    const rdigests = verify ? await receiver.next('digests') : undefined
    await Promise.all([receiver.exited, sender.exited])
    const received = Number(rdone.received)
    if (received !== size) throw new Error(`receiver got ${received} bytes, expected ${size}`)
    const seconds = Number(BigInt(rdone.tEnd as string) - BigInt(sdone.t0 as string)) / 1e9
    const rcpu = rdone.cpu as { cpuSeconds: number, cpuPercent: number } | undefined
    const scpu = sdone.cpu as { cpuSeconds: number, cpuPercent: number } | undefined
    const hz = 100
    const machineCores = ((ticks1.busy - ticks0.busy) / hz) / Math.max(seconds, 1e-9)
    const ourCores = ((rcpu?.cpuSeconds ?? 0) + (scpu?.cpuSeconds ?? 0)) / Math.max(seconds, 1e-9)
    const result: RunResult = {
      mbps: Math.round(size / seconds / 1e6),
      seconds: Number(seconds.toFixed(3)),
      senderPeakRssMB: Number(sdone.peakRssMB),
      receiverPeakRssMB: Number(rdone.peakRssMB),
      senderCpuPercent: scpu?.cpuPercent ?? 0,
      receiverCpuPercent: rcpu?.cpuPercent ?? 0,
      otherLoadCores: Number(Math.max(0, machineCores - ourCores).toFixed(2))
    }
    if (verify) {
      const a = [...((sdone.digests as string[] | undefined) ?? [])].sort().join()
      const b = [...((rdigests?.digests as string[] | undefined) ?? [])].sort().join()
      result.verified = a.length > 0 && a === b
      if (result.verified !== true) throw new Error('sha256 mismatch between sender and receiver')
    }
    return result
  } finally {
    clearTimeout(timer)
    first.kill()
    second?.kill()
  }
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

// ---------------------------------------------------------------------------------------------
// cpu profile summary (--cpu-prof)

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const LAYERS: Array<[RegExp, string]> = [
  [/libp2p-noise/, 'noise (framing + crypto glue)'],
  [/libp2p-yamux/, 'yamux'],
  [/uint8arraylist|uint8arrays/, 'Uint8ArrayList / uint8arrays'],
  [/@libp2p\/utils|it-pushable|race-signal|p-event|@libp2p\/interface|main-event|progress-events/, 'libp2p message-stream machinery'],
  [/@libp2p\/tcp/, 'libp2p tcp'],
  [/node:internal\/crypto|^crypto::/, 'node:crypto (JS side)'],
  [/node:internal\/event_target|node:events/, 'EventTarget / events'],
  [/node:net|node:internal\/stream_base_commons|node:internal\/streams|node:stream/, 'node net/streams'],
  [/^node:buffer|^node:internal\/buffer/, 'Buffer copies / allocation (node:buffer)'],
  [/\/scripts\/bench-p2p/, 'benchmark loop']
]

function layerOf (fn: string, url: string): string {
  if (fn === '(garbage collector)') return 'GC'
  if (fn === '(idle)') return 'idle'
  if (fn === '(program)') return '(program: native, unattributed)'
  if (url === '') {
    if (/^(update|final|getAuthTag|setAAD|setAuthTag|initiv|CipherBase|Cipheriv|Decipheriv)$/.test(fn)) return 'node:crypto (native)'
    if (/^(writeBuffer|writev|writeUtf8String|onStreamRead|readStart|readStop)$/.test(fn)) return 'socket syscalls (native)'
    return 'other native'
  }
  for (const [re, name] of LAYERS) if (re.test(url)) return name
  if (url.startsWith('node:')) return 'other node internals'
  return 'other js'
}

function summarizeProfile (file: string, top = 12): { file: string, totalMs: number, layers: Array<[string, number]>, functions: Array<[string, number]> } {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  for (const n of prof.nodes) byId.set(n.id, n)
  const parentOf = new Map<number, number>()
  for (const n of prof.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
  const self = new Map<number, number>()
  prof.samples.forEach((id, i) => { self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)) })
  const nameOf = (n: ProfileNode): string => {
    const { functionName, url, lineNumber } = n.callFrame
    const short = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(scripts|src)\//, '$1/')
    return `${functionName === '' ? '(anonymous)' : functionName} ${short === '' ? '[native]' : `${short}:${lineNumber + 1}`}`
  }
  const fns = new Map<string, number>()
  const callers = new Map<string, Map<string, number>>()
  const layers = new Map<string, number>()
  let total = 0
  for (const [id, us] of self) {
    const n = byId.get(id)
    if (n === undefined) continue
    const fn = n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName
    const layer = layerOf(fn, n.callFrame.url)
    if (layer === 'idle') continue
    total += us
    const key = nameOf(n)
    fns.set(key, (fns.get(key) ?? 0) + us)
    layers.set(layer, (layers.get(layer) ?? 0) + us)
    // nearest caller outside node internals, to tell which layer asked for a copy or a cipher call
    let p = parentOf.get(id)
    while (p !== undefined && (byId.get(p)?.callFrame.url ?? '').startsWith('node:')) p = parentOf.get(p)
    const parent = p === undefined ? undefined : byId.get(p)
    if (parent !== undefined) {
      const m = callers.get(key) ?? new Map<string, number>()
      m.set(nameOf(parent), (m.get(nameOf(parent)) ?? 0) + us)
      callers.set(key, m)
    }
  }
  const pct = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Number((100 * v / total).toFixed(1))])
  const functions = pct(fns).slice(0, top).map(([k, v]): [string, number] => {
    const c = callers.get(k)
    const best = c === undefined ? undefined : [...c].sort((a, b) => b[1] - a[1])[0]
    return [best === undefined ? k : `${k}  <- ${best[0]}`, v]
  })
  return { file, totalMs: Math.round(total / 1000), layers: pct(layers), functions }
}

// ---------------------------------------------------------------------------------------------

async function main (): Promise<void> {
  const values = scriptArgs({
    name: 'bench-p2p',
    summary: 'Peer-to-peer throughput: one payload from a sender process to a receiver process on 127.0.0.1 over several paths (tcp, libp2p variants, side channels); MB/s, peak RSS and CPU of both. The header of scripts/bench-p2p.ts explains the path syntax.',
    options: {
      role: { type: 'string', internal: true, description: 'receiver or sender: a child process' },
      spec: { type: 'string', internal: true, description: 'the child\'s path, as JSON' },
      target: { type: 'string', internal: true, description: 'the receiver\'s address, for the sender' },
      size: { type: 'string', default: '1GiB', valueName: 'SIZE', description: 'bytes moved per run' },
      runs: { type: 'string', default: '3', valueName: 'N', description: 'runs per path (the median is reported)' },
      paths: { type: 'string', valueName: 'LIST', description: 'presets or kind:key=value:... specs, comma-separated (default: the preset list; --list shows it)' },
      out: { type: 'string', default: 'results/bench-p2p.json', valueName: 'FILE', description: 'where the JSON report goes' },
      'cpu-prof': { type: 'string', valueName: 'DIR', description: 'profile the children and print their top self-time functions' },
      'prof-file': { type: 'string', internal: true, description: 'a child\'s profile file' },
      verify: { type: 'boolean', default: false, description: 'sha256 every stream on both sides (slower)' },
      'idle-wait': { type: 'string', default: '60', valueName: 'SECONDS', description: 'wait up to this long for an idle machine before each run' },
      'max-other-load': { type: 'string', default: '0.25', valueName: 'CORES', description: 'repeat a run while other processes used more CPU than this during it' },
      attempts: { type: 'string', default: '4', valueName: 'N', description: 'most tries per run (the least-disturbed count)' },
      list: { type: 'boolean', default: false, description: 'print the presets and exit' }
    }
  })
  const size = parseSize(values.size)

  if (values.role === 'receiver' || values.role === 'sender') {
    const spec = JSON.parse(values.spec ?? '{}') as PathSpec
    const profFile = values['prof-file']
    const target = JSON.parse(values.target ?? '{}') as Target
    if (values.role === 'receiver') await runReceiver(spec, size, target, values.verify, profFile)
    else await runSender(spec, size, target, values.verify, profFile)
    process.exit(0)
  }

  if (values.list) {
    for (const [name, spec] of Object.entries(PRESETS)) console.log(`${name.padEnd(18)} ${spec}`)
    return
  }

  const runs = Number(values.runs)
  const idleWait = Number(values['idle-wait'])
  const maxOtherLoad = Number(values['max-other-load'])
  const maxAttempts = Math.max(1, Number(values.attempts))
  const specs = (values.paths?.split(',') ?? DEFAULT_PATHS).map(p => parseSpec(p.trim()))
  const profDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof'])
  if (profDir !== undefined) mkdirSync(profDir, { recursive: true })
  const results: PathResult[] = []
  console.log(`bench-p2p: ${size} bytes, ${runs} run(s) per path, node ${process.version}, MB = 10^6 bytes`)
  for (const spec of specs) {
    const runResults: RunResult[] = []
    for (let run = 1; run <= runs; run++) {
      // on a shared machine another process's CPU use halves these numbers: wait for an idle
      // machine, and repeat a run that overlapped with foreign load (keep the least disturbed)
      let best: RunResult | undefined
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        const busyBefore = await waitIdle(idleWait)
        const r = await runOnce(spec, size, values.verify, profDir, run)
        r.attempts = attempt
        console.log(`  ${spec.name} run ${run}.${attempt}: ${r.mbps} MB/s  ${r.seconds}s  rss s/r ${r.senderPeakRssMB}/${r.receiverPeakRssMB} MB  cpu s/r ${r.senderCpuPercent}/${r.receiverCpuPercent}%  other load ${r.otherLoadCores} cores (machine busy before: ${Math.round(100 * busyBefore)}%)`)
        if (best === undefined || r.otherLoadCores < best.otherLoadCores) best = r
        if (r.otherLoadCores <= maxOtherLoad) break
      }
      if (best !== undefined) runResults.push(best)
    }
    const pick = (f: (r: RunResult) => number): number => median(runResults.map(f))
    results.push({
      path: spec.name,
      spec,
      runs: runResults,
      median: {
        mbps: Math.round(pick(r => r.mbps)),
        seconds: pick(r => r.seconds),
        senderPeakRssMB: Math.round(pick(r => r.senderPeakRssMB)),
        receiverPeakRssMB: Math.round(pick(r => r.receiverPeakRssMB)),
        senderCpuPercent: Math.round(pick(r => r.senderCpuPercent)),
        receiverCpuPercent: Math.round(pick(r => r.receiverCpuPercent)),
        otherLoadCores: pick(r => r.otherLoadCores)
      }
    })
  }

  const rows = [['path', 'MB/s (median)', 'min-max', 'sender RSS MB', 'receiver RSS MB', 'CPU s/r %']]
  for (const r of results) {
    const all = r.runs.map(x => x.mbps)
    rows.push([r.path, String(r.median.mbps), `${Math.min(...all)}-${Math.max(...all)}`, String(r.median.senderPeakRssMB), String(r.median.receiverPeakRssMB), `${r.median.senderCpuPercent}/${r.median.receiverCpuPercent}`])
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map(row => (row[i] ?? '').length))) ?? []
  console.log('')
  for (const row of rows) console.log('| ' + row.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ') + ' |')

  let profiles: Array<ReturnType<typeof summarizeProfile>> = []
  if (profDir !== undefined) {
    profiles = readdirSync(profDir).filter(f => f.endsWith('.cpuprofile')).sort().map(f => summarizeProfile(join(profDir, f)))
    for (const p of profiles) {
      console.log(`\n${p.file} (${p.totalMs} ms non-idle)`)
      console.log('  layers: ' + p.layers.map(([k, v]) => `${k} ${v}%`).join(', '))
      for (const [fn, v] of p.functions) console.log(`  ${String(v).padStart(5)}%  ${fn}`)
    }
  }

  const out = resolve(values.out)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify({
    date: new Date().toISOString(),
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    size,
    runs,
    unit: 'MB = 10^6 bytes; RSS is peak resident set (getrusage maxrss) of each process',
    results,
    profiles
  }, null, 2) + '\n')
  console.log(`\nwrote ${out}`)
}

await main()
