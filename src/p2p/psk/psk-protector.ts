/**
 * A libp2p connection protector for private networks, wire-compatible with go-libp2p's and
 * `@libp2p/pnet`'s: each side sends a random 24-byte nonce, then every byte it sends is XORed
 * with XSalsa20(psk, its own nonce) and every byte it receives with XSalsa20(psk, the peer's
 * nonce). There is no key confirmation: a peer with another key gets through the nonce
 * exchange and fails at the next step (multistream-select / noise) on garbled bytes.
 *
 * Why not `@libp2p/pnet`: its WASM XSalsa20 grows its memory until it fails after 50–90 MB,
 * and the connection ends in a way a reader sees as a normal end. This one keeps 64 bytes of
 * cipher state per direction and moves any amount of data (up to the keystream limit, see
 * {@link PskKeystreamExhaustedError}).
 *
 * Copies: a received chunk is decrypted in place (the transport hands over socket buffers it
 * no longer uses); only a chunk whose block-aligned part would start off a 4-byte boundary is
 * first copied into an aligned buffer, so noble always runs its word-wide path. Data to send is
 * gathered into one new aligned buffer and encrypted there: the caller's buffers are never
 * modified.
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
import { PskHandshakeError } from './errors.js'
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
}

export interface PskProtectorComponents {
  logger: ComponentLogger
}

const DEFAULT_TIMEOUT_MS = 5_000

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
  return (components) => new PskConnectionProtector(components, key, timeoutMs)
}

class PskConnectionProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'damselfly:psk'
  readonly #key: Uint8Array
  readonly #timeoutMs: number
  readonly #log: Logger

  constructor (components: PskProtectorComponents, key: Uint8Array, timeoutMs: number) {
    this.#key = key
    this.#timeoutMs = timeoutMs
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
    return new PskConnection({ inner: connection, key: this.#key, localNonce, remoteNonce, log })
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
      return nonce.slice()
    } catch (error) {
      // The caller gave up (the upgrade timed out, the node is stopping): not our failure.
      if (signal?.aborted === true) throw error
      const failure = error instanceof PskHandshakeError
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

function isMultiaddrConnection (stream: MessageStream): stream is MultiaddrConnection {
  return 'remoteAddr' in stream && stream.remoteAddr != null
}

interface PskConnectionInit {
  inner: MultiaddrConnection
  key: Uint8Array
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  log: Logger
}

/** The protected connection: the inner one with both directions XORed with their keystreams. */
class PskConnection extends AbstractMultiaddrConnection {
  readonly #inner: MultiaddrConnection
  readonly #inbound: XSalsa20Stream
  readonly #outbound: XSalsa20Stream

  constructor (init: PskConnectionInit) {
    super({ remoteAddr: init.inner.remoteAddr, direction: init.inner.direction, log: init.log })
    this.#inner = init.inner
    this.#inbound = new XSalsa20Stream(init.key, init.remoteNonce)
    this.#outbound = new XSalsa20Stream(init.key, init.localNonce)
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
    if ((chunk.byteOffset + lead) % 4 === 0 || chunk.byteLength - lead < 64) {
      return this.#inbound.xor(chunk)
    }
    const aligned = alignedBuffer(chunk.byteLength, lead)
    aligned.set(chunk)
    return this.#inbound.xor(aligned)
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
