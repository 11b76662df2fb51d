/**
 * A libp2p connection protector for private networks, wire-compatible with go-libp2p's and
 * `@libp2p/pnet`'s: each side sends a random 24-byte nonce, then every byte it sends is XORed
 * with XSalsa20(psk, its own nonce) and every byte it receives with XSalsa20(psk, the peer's
 * nonce). The format has no key confirmation: a peer with another key gets through the nonce
 * exchange, and the next step (multistream-select, then noise) sees garbled bytes. Those fail
 * at once only about 60% of the time; otherwise the garbled length prefix makes
 * multistream-select wait for bytes that never come, until the upgrade times out (6 s when
 * dialling, 10 s when answering). So we check the first bytes the peer sends after its nonce
 * against the multistream-select header every libp2p upgrade (js and go) starts with, and
 * refuse the connection on the first wrong byte ({@link PskKeyMismatchError}). The check reads
 * bytes, it sends none: the wire format is unchanged.
 *
 * Why not `@libp2p/pnet`: its WASM XSalsa20 grows its memory until it fails after 50–90 MB,
 * and the connection ends in a way a reader sees as a normal end. This one keeps 64 bytes of
 * cipher state per direction and moves any amount of data (up to the keystream limit, see
 * {@link PskKeystreamExhaustedError}).
 *
 * Copies: a received chunk is decrypted in place (the transport hands over socket buffers it
 * no longer uses) when its block-aligned part starts on a 4-byte boundary; otherwise it is first
 * copied into an aligned buffer, because noble's byte-wise path for unaligned data is ~35% slower
 * than a copy plus its word-wide path. (Over TCP that is 3 connections in 4: socket reads are
 * 64 KiB, so the keystream offset within each read is fixed per connection.) Data to send is
 * gathered, at most 64 KiB at a time, into a new aligned buffer and encrypted there: the
 * caller's buffers are never modified. So each byte is copied at most once per direction,
 * besides the XOR itself.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ connectionProtector: pskProtector({ psk: await readFile('swarm.key') }), ... })
 * ```
 */
import { randomBytes } from 'node:crypto'
import { InvalidParametersError } from '@libp2p/interface'
import type { AbortOptions, ComponentLogger, ConnectionProtector, Logger, MessageStream, MultiaddrConnection, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import type { SendResult } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import { PskHandshakeError, PskKeyMismatchError } from './errors.js'
import { resolvePskKey } from './key-file.js'
import { XSalsa20Stream } from './xsalsa20-stream.js'

/** Bytes of the nonce each side sends first. */
export const PSK_NONCE_LENGTH = 24

export interface PskProtectorInit {
  /** The key file's bytes (`/key/swarm/psk/1.0.0/` format) or the raw 32-byte key. */
  psk: Uint8Array
  /**
   * The nonce exchange must complete within this many milliseconds; the caller's signal (the
   * upgrade's) applies as well.
   *
   * @default 5000
   */
  timeoutMs?: number
  /**
   * Refuse a peer at once when the first bytes it sends after its nonce do not decrypt to the
   * multistream-select header (`\x13/multistream/1.0.0\n`), which is how a peer with another
   * key, or none, shows. Turn off only for a transport whose upgrade starts otherwise.
   *
   * @default true
   */
  expectMultistreamHeader?: boolean
}

export interface PskProtectorComponents {
  logger: ComponentLogger
}

const DEFAULT_TIMEOUT_MS = 5_000

/**
 * The most one `sendData` call encrypts. Bounds the transient copy, and lets the socket start on
 * one piece while the next is encrypted: measured (scripts/bench-psk.ts) ~15% faster and ~15%
 * less sender CPU than encrypting the whole queued write buffer (up to megabytes) at once;
 * 32–128 KiB measured alike.
 */
const SEND_PIECE_BYTES = 64 * 1024

/** What every libp2p connection upgrade sends first, in each direction: `/multistream/1.0.0\n`, length-prefixed. */
const MULTISTREAM_HEADER = new TextEncoder().encode('\x13/multistream/1.0.0\n')

/**
 * `createLibp2p({ connectionProtector: pskProtector({ psk }) })`. The key is checked here, so a
 * bad key file fails before the node is built.
 *
 * @throws {PskKeyError} when `psk` is neither a key file nor a 32-byte key
 */
export function pskProtector (init: PskProtectorInit): (components: PskProtectorComponents) => ConnectionProtector {
  const key = resolvePskKey(init.psk)
  const timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number')
  const expectMultistreamHeader = init.expectMultistreamHeader ?? true
  return (components) => new PskConnectionProtector(components, { key, timeoutMs, expectMultistreamHeader })
}

interface ProtectorSettings { key: Uint8Array, timeoutMs: number, expectMultistreamHeader: boolean }

class PskConnectionProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'damselfly:psk'
  readonly #key: Uint8Array
  readonly #timeoutMs: number
  readonly #expectMultistreamHeader: boolean
  readonly #log: Logger

  constructor (components: PskProtectorComponents, settings: ProtectorSettings) {
    this.#key = settings.key
    this.#timeoutMs = settings.timeoutMs
    this.#expectMultistreamHeader = settings.expectMultistreamHeader
    this.#log = components.logger.forComponent('damselfly:psk')
  }

  async protect (connection: MessageStream, options: AbortOptions = {}): Promise<MessageStream> {
    if (!isMultiaddrConnection(connection)) {
      throw new InvalidParametersError('the PSK protector wraps a MultiaddrConnection (one with a remoteAddr)')
    }
    const localNonce = randomBytes(PSK_NONCE_LENGTH)
    const remoteNonce = await this.#exchangeNonces(connection, localNonce, options.signal)
    const log = connection.log.newScope('psk')
    log('exchanged nonces')
    return new PskConnection({
      inner: connection,
      key: this.#key,
      localNonce,
      remoteNonce,
      log,
      expectedPrefix: this.#expectMultistreamHeader ? MULTISTREAM_HEADER : new Uint8Array(0)
    })
  }

  /** Sends our nonce and reads the peer's, bounded by the timeout and the caller's signal. */
  async #exchangeNonces (connection: MultiaddrConnection, localNonce: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const controller = new AbortController()
    const timer = setTimeout(() => {
      controller.abort(new PskHandshakeError(`the peer sent no private-network nonce within ${this.#timeoutMs} ms`))
    }, this.#timeoutMs)
    const onCallerAbort = (): void => { controller.abort(signal?.reason) }
    signal?.addEventListener('abort', onCallerAbort, { once: true })
    if (signal?.aborted === true) onCallerAbort()
    const bytes = byteStream(connection)
    try {
      const [nonce] = await Promise.all([
        bytes.read({ bytes: PSK_NONCE_LENGTH, signal: controller.signal }),
        bytes.write(localNonce, { signal: controller.signal })
      ])
      const remoteNonce = nonce.slice()
      if (this.#expectMultistreamHeader && startsWith(remoteNonce, MULTISTREAM_HEADER)) {
        throw new PskKeyMismatchError('the peer speaks plain libp2p: it has no private-network key')
      }
      return remoteNonce
    } catch (error) {
      // The caller gave up (the upgrade timed out, the node is stopping): not our failure.
      if (signal?.aborted === true) throw error
      const failure = error instanceof PskHandshakeError || error instanceof PskKeyMismatchError
        ? error
        : new PskHandshakeError('the connection ended during the private-network nonce exchange', { cause: error })
      this.#log('nonce exchange with %a failed: %s', connection.remoteAddr, failure.message)
      connection.abort(failure)
      throw failure
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onCallerAbort)
      // Puts back whatever arrived after the nonce; the protected connection reads it first.
      bytes.unwrap()
    }
  }
}

function startsWith (bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.byteLength >= prefix.byteLength && prefix.every((byte, index) => bytes[index] === byte)
}

function isMultiaddrConnection (stream: MessageStream): stream is MultiaddrConnection {
  return 'remoteAddr' in stream && stream.remoteAddr != null
}

interface PskConnectionInit {
  inner: MultiaddrConnection
  key: Uint8Array
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  log: Logger
  /** What the peer's plaintext must start with; empty to accept anything. */
  expectedPrefix: Uint8Array
}

/** The protected connection: the inner one with both directions XORed with their keystreams. */
class PskConnection extends AbstractMultiaddrConnection {
  readonly #inner: MultiaddrConnection
  readonly #inbound: XSalsa20Stream
  readonly #outbound: XSalsa20Stream
  readonly #expectedPrefix: Uint8Array
  /** Bytes of `#expectedPrefix` already received and matched. */
  #prefixMatched = 0

  constructor (init: PskConnectionInit) {
    super({
      remoteAddr: init.inner.remoteAddr,
      direction: init.inner.direction,
      log: init.log,
      maxMessageSize: SEND_PIECE_BYTES
    })
    this.#inner = init.inner
    this.#inbound = new XSalsa20Stream(init.key, init.remoteNonce)
    this.#outbound = new XSalsa20Stream(init.key, init.localNonce)
    this.#expectedPrefix = init.expectedPrefix
    this.#inner.addEventListener('message', this.#onInnerMessage)
    this.#inner.addEventListener('drain', this.#onInnerDrain)
    this.#inner.addEventListener('remoteCloseWrite', this.#onInnerRemoteCloseWrite)
    this.#inner.addEventListener('close', this.#onInnerClose)
  }

  readonly #onInnerMessage = (event: StreamMessageEvent): void => {
    try {
      const data = event.data
      if (data instanceof Uint8Array) {
        this.onData(this.#decrypt(data))
      } else {
        for (const chunk of data) this.onData(this.#decrypt(chunk))
      }
    } catch (error) {
      this.abort(error instanceof Error ? error : new Error(String(error)))
    }
  }

  readonly #onInnerDrain = (): void => {
    this.onMuxerDrain()
  }

  readonly #onInnerRemoteCloseWrite = (): void => {
    this.onRemoteCloseWrite()
  }

  readonly #onInnerClose = (event: StreamCloseEvent): void => {
    this.#inner.removeEventListener('message', this.#onInnerMessage)
    this.#inner.removeEventListener('drain', this.#onInnerDrain)
    this.#inner.removeEventListener('remoteCloseWrite', this.#onInnerRemoteCloseWrite)
    this.#inner.removeEventListener('close', this.#onInnerClose)
    if (event.error == null) {
      this.onTransportClosed()
    } else if (event.local === true) {
      this.abort(event.error)
    } else {
      this.onRemoteReset()
    }
  }

  /** Decrypts a received chunk, in place when noble's word-wide path can run there. */
  #decrypt (chunk: Uint8Array): Uint8Array {
    const lead = Math.min(this.#inbound.pending, chunk.byteLength)
    let plain: Uint8Array
    if ((chunk.byteOffset + lead) % 4 === 0 || chunk.byteLength - lead < 64) {
      plain = this.#inbound.xor(chunk)
    } else {
      plain = alignedBuffer(chunk.byteLength, lead)
      plain.set(chunk)
      this.#inbound.xor(plain)
    }
    if (this.#prefixMatched < this.#expectedPrefix.byteLength) this.#checkPrefix(plain)
    return plain
  }

  /** Matches the start of the peer's plaintext against the expected prefix, across chunks. */
  #checkPrefix (plain: Uint8Array): void {
    const expected = this.#expectedPrefix
    let index = 0
    while (index < plain.byteLength && this.#prefixMatched < expected.byteLength) {
      if (plain[index] !== expected[this.#prefixMatched]) {
        throw new PskKeyMismatchError('the peer\'s data does not decrypt to a libp2p handshake: it holds another private-network key, or none')
      }
      index++
      this.#prefixMatched++
    }
  }

  sendData (data: Uint8ArrayList): SendResult {
    const length = data.byteLength
    const out = alignedBuffer(length, Math.min(this.#outbound.pending, length))
    let offset = 0
    for (const chunk of data) {
      out.set(chunk, offset)
      offset += chunk.byteLength
    }
    this.#outbound.xor(out)
    return { sentBytes: length, canSendMore: this.#inner.send(out) }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    await this.#inner.close(options)
  }

  sendReset (error: Error): void {
    this.#inner.abort(error)
  }

  sendPause (): void {
    this.#inner.pause()
  }

  sendResume (): void {
    this.#inner.resume()
  }
}

/**
 * A new `length`-byte buffer placed so that byte `lead` (where whole keystream blocks start)
 * sits on a 4-byte boundary. Not zero-filled: the caller overwrites every byte.
 */
function alignedBuffer (length: number, lead: number): Uint8Array {
  const backing = Buffer.allocUnsafe(length + 3)
  const shift = (4 - ((backing.byteOffset + lead) % 4)) % 4
  return backing.subarray(shift, shift + length)
}
