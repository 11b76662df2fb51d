import { connect, type Socket } from 'node:net'
import { Uint8ArrayList } from 'uint8arraylist'
import { AbortedError, DataConnectionError, PeerBusyError } from '../../errors.js'
import type { Pace } from '../../limits/token-bucket.js'
import { pieceResponse, type PieceRequest, type PieceResponse } from '../messages.js'
import { receivedBlock, type ReceivedBlock } from '../piece-protocol.js'
import { ProtocolError } from '../wire.js'
import { encodeFrame, FrameReader } from './frames.js'
import { connectionMagic } from './keys.js'
import type { DataAck } from './messages.js'
import { readBufferBytes, SlabReads } from './read-buffers.js'
import { RecordOpener, RecordSealer, type RecordKey } from './records.js'
import type { Slab, SlabOutcome } from './slab-pool.js'

/**
 * Requests sent ahead on one connection: one being answered, one waiting at the holder, so the
 * pipe never idles. More would only queue at the holder, where a request the caller gives up on
 * cannot be taken back (its bytes still come, and delay the rest); here it can.
 */
const defaultMaxInFlight = 2
/** With requests outstanding and no byte for this long, the connection is taken for dead. */
const stallMs = 20_000
/** A connection nobody used for this long is closed; the next request opens a new one. */
const idleMs = 60_000

export interface DataConnectionInit {
  host: string
  port: number
  token: Buffer
  /** Protects what this side sends (requests). */
  requests: RecordKey
  /** Protects what the holder sends (headers and block bytes). */
  responses: RecordKey
  /** Bounds the opening only: connect, token, the holder's first record. */
  signal: AbortSignal
  /** Paces bytes taken from the peer: taken per block before it is asked for. */
  pace?: Pace
  /** Block bytes as they arrive. */
  onReceived?: (bytes: number) => void
  /** Block bytes that arrive for a request given up (aborted after it was sent): read and dropped. */
  onDiscarded?: (bytes: number) => void
  /** Plain connections: each slab the reader starts, new or reused (slab-pool.ts). */
  onSlab?: (outcome: SlabOutcome) => void
  maxInFlight?: number
  /** The holder agreed to acks: after each record of block bytes, say how many arrived in all. */
  acks?: boolean
}

interface Pending {
  request: PieceRequest
  resolve: (block: ReceivedBlock | undefined) => void
  reject: (error: unknown) => void
  /** The caller gave up: the answer is still read off the wire, and dropped. */
  cancelled: boolean
  response?: PieceResponse
  /** The block so far; views that touch in memory (plain reads into one slab) are joined. */
  chunks: Buffer[]
  /** Plain: the slab of each view in `chunks` (one hold per view). */
  holds: Slab[]
  detach: () => void
}

/**
 * The downloader's side of one data connection: pipelined piece requests, answered in order.
 * It reads with `onread` (no Buffer per read) and hands each block over as the chunks it was
 * decrypted into (or, plain, the memory it was read into): no copy on the way. Plain blocks
 * are views of pooled slabs: the caller gives them back with the block's `release`, after which
 * the slab may be read into again (a block never released only costs the pool that slab).
 */
export class DataConnection {
  private readonly socket: Socket
  private readonly sealer: RecordSealer
  private readonly opener: RecordOpener
  private readonly frames: FrameReader
  private readonly slabs?: SlabReads
  private readonly init: DataConnectionInit
  private readonly maxInFlight: number
  private readonly waiting: Pending[] = []
  private readonly sent: Pending[] = []
  private readonly watchdog: NodeJS.Timeout
  private hello?: { resolve: () => void, reject: (error: unknown) => void }
  private lastRead = Date.now()
  private lastUsed = Date.now()
  /** Block bytes received in all, and as last acked. */
  private receivedBytes = 0
  private ackedBytes = 0
  private closedWith?: Error
  /** Called once when the connection ends, for whatever reason. */
  onClose?: (error: Error) => void

  private constructor (init: DataConnectionInit) {
    this.init = init
    this.maxInFlight = init.maxInFlight ?? defaultMaxInFlight
    this.sealer = new RecordSealer(init.requests)
    this.frames = new FrameReader({
      header: (value) => this.onHeader(value),
      payload: (chunk) => { this.onPayload(chunk) },
      end: () => { this.onAnswered() }
    })
    const slabs = init.responses.key === undefined ? new SlabReads({ onSlab: init.onSlab }) : undefined
    this.slabs = slabs
    this.opener = new RecordOpener(init.responses, (chunks) => { this.onRecord(chunks) }, slabs)
    const readBuffer = slabs === undefined ? Buffer.allocUnsafe(readBufferBytes) : undefined
    this.socket = connect({
      host: init.host,
      port: init.port,
      noDelay: true,
      onread: {
        buffer: slabs?.next ?? readBuffer!,
        callback: (count: number, buffer: Uint8Array): boolean => {
          this.lastRead = Date.now()
          const bytes = slabs === undefined ? Buffer.from(buffer.buffer, buffer.byteOffset, count) : slabs.landed(count, buffer)
          try {
            this.opener.feed(bytes)
          } catch (error) {
            this.destroy(error instanceof DataConnectionError ? error : new DataConnectionError('the peer broke the data protocol', { cause: error }))
          }
          return true
        }
      }
    })
    this.socket.on('error', (error) => { this.destroy(new DataConnectionError(`data connection to ${init.host}:${init.port} failed: ${error.message}`, { cause: error })) })
    this.socket.on('close', () => { this.destroy(new DataConnectionError(`data connection to ${init.host}:${init.port} was cut`)) })
    this.watchdog = setInterval(() => { this.check() }, 5_000).unref()
  }

  /** Connects, presents the token and waits for the holder's first record (it holds the key). */
  static async open (init: DataConnectionInit): Promise<DataConnection> {
    const connection = new DataConnection(init)
    await connection.opened()
    return connection
  }

  get closed (): boolean {
    return this.closedWith !== undefined
  }

  /** Blocks asked for and not yet answered (or not yet sent). */
  get outstanding (): number {
    return this.waiting.length + this.sent.filter(pending => !pending.cancelled).length
  }

  /** One block, as `requestBlock` gives it; undefined when the peer no longer has it; PeerBusyError when its uplink is booked. */
  async request (request: PieceRequest, signal: AbortSignal): Promise<ReceivedBlock | undefined> {
    this.lastUsed = Date.now()
    if (this.closedWith !== undefined) throw this.closedWith
    await this.init.pace?.(request.length, signal)
    if (signal.aborted) throw reasonOf(signal)
    return await new Promise<ReceivedBlock | undefined>((resolve, reject) => {
      const onAbort = (): void => {
        const queued = this.waiting.indexOf(pending)
        if (queued !== -1) this.waiting.splice(queued, 1)
        else pending.cancelled = true
        this.letGo(pending)
        reject(reasonOf(signal))
      }
      const pending: Pending = {
        request,
        resolve,
        reject,
        cancelled: false,
        chunks: [],
        holds: [],
        detach: () => { signal.removeEventListener('abort', onAbort) }
      }
      if (this.closedWith !== undefined) {
        reject(this.closedWith)
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(pending)
      this.sendWaiting()
    })
  }

  close (): void {
    this.destroy(new DataConnectionError('the data connection was closed'))
  }

  private async opened (): Promise<void> {
    const { signal } = this.init
    const onAbort = (): void => { this.destroy(new DataConnectionError('opening the data connection timed out or was aborted', { cause: signal.reason })) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (signal.aborted) onAbort()
      await new Promise<void>((resolve, reject) => {
        if (this.closedWith !== undefined) {
          reject(this.closedWith)
          return
        }
        this.hello = { resolve, reject }
        this.socket.write(Buffer.concat([connectionMagic, this.init.token]))
      })
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  private onRecord (chunks: Buffer[]): void {
    if (this.hello !== undefined) {
      if (chunks.some(chunk => chunk.length > 0)) throw new ProtocolError('the first record must be empty')
      const { resolve } = this.hello
      this.hello = undefined
      resolve()
      return
    }
    for (const chunk of chunks) this.frames.push(chunk)
    if (this.init.acks === true && this.receivedBytes > this.ackedBytes) {
      this.ackedBytes = this.receivedBytes
      this.sealer.write(this.socket, [encodeFrame({ ack: this.ackedBytes } satisfies DataAck)])
    }
  }

  private onHeader (value: unknown): number {
    const parsed = pieceResponse.safeParse(value)
    if (!parsed.success) throw new ProtocolError(`unexpected message: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
    const pending = this.sent[0]
    if (pending === undefined) throw new ProtocolError('an answer to no request')
    const response = parsed.data
    pending.response = response
    if (!response.ok) return 0
    if (response.length !== pending.request.length) throw new ProtocolError(`peer answered ${response.length} bytes for a ${pending.request.length}-byte block`)
    return response.length
  }

  private onPayload (chunk: Buffer): void {
    const pending = this.sent[0]!
    this.receivedBytes += chunk.length
    this.init.onReceived?.(chunk.length)
    if (pending.cancelled) {
      this.init.onDiscarded?.(chunk.length)
      return
    }
    const last = pending.chunks[pending.chunks.length - 1]
    if (last !== undefined && last.buffer === chunk.buffer && last.byteOffset + last.byteLength === chunk.byteOffset) {
      pending.chunks[pending.chunks.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.byteLength + chunk.byteLength)
    } else {
      // Kept past this read: the slab under it is not reused until the block is released.
      const slab = this.slabs?.hold(chunk)
      if (slab !== undefined) pending.holds.push(slab)
      pending.chunks.push(chunk)
    }
  }

  private onAnswered (): void {
    const pending = this.sent.shift()!
    this.lastUsed = Date.now()
    if (!pending.cancelled) {
      pending.detach()
      const response = pending.response!
      if (!response.ok) {
        this.letGo(pending)
        if (response.reason === 'busy') pending.reject(new PeerBusyError(response.retryAfterMs ?? 0))
        else pending.resolve(undefined)
      } else if (this.slabs === undefined) {
        // Decrypted chunks are memory of their own: the caller may move them to another thread.
        pending.resolve({ ...receivedBlock(response, new Uint8ArrayList(...pending.chunks)), owned: true })
      } else {
        const holds = pending.holds
        pending.holds = []
        let released = false
        const release = (): void => {
          if (released) return
          released = true
          for (const slab of holds) this.slabs!.release(slab)
        }
        pending.resolve({ ...receivedBlock(response, new Uint8ArrayList(...pending.chunks)), release })
      }
    }
    this.sendWaiting()
  }

  /** The block's views are dropped: their slabs may be read into again. */
  private letGo (pending: Pending): void {
    pending.chunks = []
    const holds = pending.holds
    pending.holds = []
    for (const slab of holds) this.slabs!.release(slab)
  }

  private sendWaiting (): void {
    while (this.closedWith === undefined && this.hello === undefined && this.sent.length < this.maxInFlight && this.waiting.length > 0) {
      const pending = this.waiting.shift()!
      this.sent.push(pending)
      this.sealer.write(this.socket, [encodeFrame(pending.request)])
    }
  }

  private check (): void {
    const now = Date.now()
    if (this.sent.length > 0 && now - this.lastRead > stallMs) this.destroy(new DataConnectionError(`no bytes from the peer for ${stallMs / 1000} s`))
    else if (this.sent.length === 0 && this.waiting.length === 0 && now - this.lastUsed > idleMs) this.close()
  }

  private destroy (error: DataConnectionError): void {
    if (this.closedWith !== undefined) return
    this.closedWith = error
    clearInterval(this.watchdog)
    this.socket.destroy()
    this.hello?.reject(error)
    this.hello = undefined
    for (const pending of [...this.sent, ...this.waiting]) {
      this.letGo(pending)
      if (pending.cancelled) continue
      pending.detach()
      pending.reject(error)
    }
    this.sent.length = 0
    this.waiting.length = 0
    this.slabs?.close()
    this.onClose?.(error)
  }
}

function reasonOf (signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new AbortedError()
}
