import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Pace } from '../limits/token-bucket.js'
import type { Logger } from '../logging/logger.js'
import type { BlockRelease, LocalTasks } from './local-tasks.js'
import type { PieceRequest, PieceResponse } from './messages.js'
import type { P2PHost } from './host.js'
import { exchange, serveExchange } from './exchange.js'
import { ProtocolError, readMessage, readPayload, writeMessage, type Wire } from './wire.js'
import type { WireDialect } from './wire-versions.js'
import type { UploadQueue } from './upload-queue.js'

/** The largest block one request may ask for: memory per stream stays bounded by it. */
export const maxBlockBytes = 4 * 1024 * 1024
/** Payload is sent in slices this large so that send() back-pressure has a say. */
const sendSliceBytes = 1024 * 1024

/** Slice size while a rate limit paces the stream: small enough to pace smoothly. */
export const pacedSliceBytes = 64 * 1024

export interface PieceServerInit {
  /** Test-only fault injection: flip a byte in every block served. */
  corruptBlocks?: boolean
  onServed?: (bytes: number) => void
  /**
   * Block bytes that reached the downloader: acked ones on a data connection whose downloader
   * acks, else those handed to the transport. What the uplink really moved (share-pace.ts).
   */
  onArrived?: (bytes: number) => void
  /** Paces the bytes served to peers (upload rate). @default unlimited */
  pace?: Pace
  /**
   * This node's uplink, shared by every peer it serves: blocks are sent in turn, and on
   * data connections the first block of a piece is refused as busy when the link is booked too
   * far ahead (UploadQueue). Streams of this protocol only queue: a 0.1.0 peer would read a
   * refusal as "does not hold it". @default every block sent at once, none refused
   */
  uploads?: UploadQueue
}

/** A holder's answer to one piece request: the header, and the block's bytes when it is ok. */
export interface PieceReply {
  response: PieceResponse
  /** The bytes, as the verified buffers they were read into (in order, never joined by a copy). */
  data?: Buffer[]
  /**
   * Gives the memory under `data` back (LocalTasks' BlockRelease): the sender calls it once its
   * write of the last byte completed, and not before, since the memory is then read into again.
   */
  release?: BlockRelease
}

/** `parts` cut into slices of at most `bytes`, each a view (no copy). */
export function * slices (parts: readonly Buffer[], bytes: number): Generator<Buffer> {
  for (const part of parts) {
    for (let offset = 0; offset < part.length; offset += bytes) yield part.subarray(offset, offset + bytes)
  }
}

/**
 * Answers one piece request from what this node holds. Both transports (this protocol's
 * streams and the data connection) serve through here, so a block and its header are the
 * same on either, test faults included.
 */
export async function pieceReply (tasks: LocalTasks, request: PieceRequest, init: PieceServerInit = {}): Promise<PieceReply> {
  if (request.length > maxBlockBytes) return { response: { ok: false, reason: 'bad-request' } }
  const block = await tasks.readBlock(request.task, request.piece, request.offset, request.length)
  if (block === undefined) return { response: { ok: false, reason: 'missing' } }
  const data = Array.isArray(block.data) ? block.data.filter(part => part.length > 0) : [block.data]
  if (init.corruptBlocks === true && data[0] !== undefined && data[0].length > 0) {
    // On a copy: a block read from the store may be shared with other readers (verified-reader.ts).
    const copy = Buffer.from(data[0])
    copy[0] = copy[0]! ^ 0xff
    data[0] = copy
  }
  const response: PieceResponse = {
    ok: true,
    length: data.reduce((sum, part) => sum + part.length, 0),
    ...(block.digest === undefined ? {} : { digest: block.digest }),
    ...(block.blocks === undefined ? {} : { blocks: block.blocks })
  }
  return { response, data, ...(block.release === undefined ? {} : { release: block.release }) }
}

/** Serves blocks of held pieces: one request, one response, per stream. */
export function handlePiece (tasks: LocalTasks, log: Logger, dialect: WireDialect, init: PieceServerInit = {}) {
  return async (stream: Stream, _connection: Connection): Promise<void> => {
    await serveExchange(stream, 64 * 1024, 60_000, log, async (bytes, signal) => {
      const request = await readMessage(bytes, dialect, 'pieceRequest', signal)
      const reply = await pieceReply(tasks, request, init)
      const { response, data } = reply
      // `blocks` exists from 1.1.0 on: writeMessage drops it for a peer that agreed on 1.0.0.
      if (data === undefined || !response.ok) {
        await writeMessage(bytes, dialect, 'pieceResponse', response, signal)
        return
      }
      init.uploads?.book(response.length)
      const release = await init.uploads?.turn(response.length, signal).catch((error: unknown) => {
        init.uploads?.cancel(response.length)
        reply.release?.(true)
        throw error
      })
      try {
        await writeMessage(bytes, dialect, 'pieceResponse', response, signal)
        for (const part of slices(data, init.pace === undefined ? sendSliceBytes : pacedSliceBytes)) {
          await init.pace?.(part.length, signal)
          await bytes.write(part, { signal })
        }
      } finally {
        release?.()
        // Never reused: a libp2p stream's write resolves once the muxer took the bytes, and they
        // may then wait, not yet encrypted, in the connection's shared write buffer until its
        // socket drains; no event of this stream says when they left it.
        reply.release?.(false)
      }
      init.onServed?.(response.length)
      init.onArrived?.(response.length)
    })
  }
}

export interface ReceivedBlock {
  data: Uint8ArrayList
  /** The sender's digest of the whole piece, if it sent one. */
  digest?: string
  /** The sha256 of every block of the piece (block-aware senders only): lets the receiver check each block as it lands. */
  blocks?: string[]
  /**
   * The memory under `data` holds nothing else (data connection): a chunk that is the whole of
   * its memory may be moved to another thread (detached) once the caller is done with it.
   */
  owned?: boolean
  /**
   * The memory under `data` is pooled (a plain data connection's read slabs): call once no view
   * of `data` is needed any more — written, and hashed — and the memory is read into again.
   * Never move (transfer) such memory to another thread; it is shared, so hashing threads read
   * it in place. Not calling it is safe: the pool then allocates anew.
   */
  release?: () => void
}

/** Fetches one block from `peer`; undefined when the peer no longer has it. */
export async function requestBlock (host: P2PHost, peer: PeerId, dialects: readonly WireDialect[], request: PieceRequest, signal: AbortSignal, pace?: Pace): Promise<ReceivedBlock | undefined> {
  return await exchange(host, peer, 'piece', dialects, request.length + 64 * 1024, signal, async (bytes, dialect) => {
    await writeMessage(bytes, dialect, 'pieceRequest', request, signal)
    const response = await readMessage(bytes, dialect, 'pieceResponse', signal)
    if (!response.ok) return undefined
    if (response.length !== request.length) throw new ProtocolError(`peer answered ${response.length} bytes for a ${request.length}-byte block`)
    const data = pace === undefined ? await readPayload(bytes, response.length, signal) : await readPaced(bytes, response.length, pace, signal)
    return receivedBlock(response, data)
  })
}

/** The caller's view of an ok answer, whichever transport carried it: built here for both. */
export function receivedBlock (response: Extract<PieceResponse, { ok: true }>, data: Uint8ArrayList): ReceivedBlock {
  return {
    data,
    ...(response.digest === undefined ? {} : { digest: response.digest }),
    ...(response.blocks === undefined ? {} : { blocks: response.blocks })
  }
}

/** Reads the payload slice by slice, taking tokens first: the yamux window then holds the sender back. */
async function readPaced (bytes: Wire, length: number, pace: Pace, signal: AbortSignal): Promise<Uint8ArrayList> {
  const data = new Uint8ArrayList()
  for (let offset = 0; offset < length; offset += pacedSliceBytes) {
    const part = Math.min(pacedSliceBytes, length - offset)
    await pace(part, signal)
    data.append(await readPayload(bytes, part, signal))
  }
  return data
}
