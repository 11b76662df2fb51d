import type { Socket } from 'node:net'
import type { Logger } from '../../logging/logger.js'
import type { LocalTasks } from '../local-tasks.js'
import { pieceRequest, type PieceRequest } from '../messages.js'
import type { UploadRelease } from '../upload-queue.js'
import { pacedSliceBytes, pieceReply, slices, type PieceReply, type PieceServerInit } from '../piece-protocol.js'
import { ProtocolError } from '../wire.js'
import { Delivery } from './delivery.js'
import { encodeFrame, FrameReader } from './frames.js'
import { dataAck } from './messages.js'
import { maxRecordBytes, RecordOpener, RecordSealer, type RecordKey } from './records.js'
import { drained } from './socket-wait.js'

/** Requests a downloader may queue on one connection before it is a protocol breach. */
export const maxQueuedRequests = 32
/** Bytes queued on the socket before the server waits for a drain. */
const writeQueueBytes = 4 * 1024 * 1024
/**
 * Records of a block on a connection with acks: another connection's turn starts when all but
 * the last has arrived, so this is what stays on the wire while that block starts (52 ms at
 * 5 MB/s, 0.2 ms at 10 Gb/s, still above a LAN's round trip).
 */
const ackedRecordBytes = 256 * 1024
/** An ack later than this: the downloader is not trusted with the uplink's turns any more. */
const defaultAckWaitMs = 5_000

export interface ServeConnectionInit extends PieceServerInit {
  /** Protects what the downloader sends (its requests). */
  requests: RecordKey
  /** Protects what this node sends (headers and block bytes). */
  responses: RecordKey
  onSent?: (bytes: number) => void
  /** The downloader acks what it receives (`dataAck`): another connection's turn waits for arrival, not just the drain. */
  acks?: boolean
  /** How long a turn waits for an ack before acks are ignored on this connection. @default 5000 */
  ackWaitMs?: number
}

/** A request; `retryAfterMs` when it was refused as busy (booked ones are in `bookedHere`). */
interface Queued {
  request: PieceRequest
  retryAfterMs?: number
  /** The uplink's key of the piece whose admission this request booked (a piece's first block). */
  piece?: string
}

/**
 * Serves piece requests on an accepted data connection, one at a time in the order they came
 * (the downloader pipelines them): each answer is the same header frame `/damselfly/piece/1.0.0`
 * sends, then the block's bytes in records of ≤ 1 MiB. `leftover` is what arrived after the token.
 */
export function serveConnection (socket: Socket, leftover: Buffer, tasks: LocalTasks, log: Logger, init: ServeConnectionInit): void {
  const lifetime = new AbortController()
  const sealer = new RecordSealer(init.responses)
  const queue: Queued[] = []
  const uploads = init.uploads
  /** Requests this connection booked on the uplink and has not sent yet: given back if it closes. */
  const bookedHere = new Set<Queued>()
  const delivery = init.acks === true ? new Delivery() : undefined
  let serving = false
  const fail = (error: unknown): void => {
    log.debug('data connection failed', { error })
    socket.destroy()
  }
  const frames = new FrameReader({
    header: (value) => {
      const ack = delivery === undefined ? undefined : dataAck.safeParse(value)
      if (ack?.success === true) {
        init.onArrived?.(delivery!.ack(ack.data.ack))
        return 0
      }
      const parsed = pieceRequest.safeParse(value)
      if (!parsed.success) throw new ProtocolError(`unexpected message: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
      if (queue.length >= maxQueuedRequests) throw new ProtocolError(`more than ${maxQueuedRequests} requests queued`)
      queue.push(booking(parsed.data))
      void serveQueue()
      return 0
    },
    payload: () => {},
    end: () => {}
  })
  const opener = new RecordOpener(init.requests, (chunks) => { for (const chunk of chunks) frames.push(chunk) })
  /**
   * Admission is decided per piece, at its first block: the rest of a piece already started is
   * always sent, so that a requester never loses the part it has.
   */
  const booking = (request: PieceRequest): Queued => {
    if (uploads === undefined) return { request }
    const piece = request.offset > 0 ? undefined : `${request.task}:${request.piece}`
    const admission = piece === undefined ? uploads.book(request.length) : uploads.admit(request.length, piece)
    if (!admission.admit) return { request, retryAfterMs: Math.ceil(admission.retryAfterMs) }
    const queued: Queued = { request, piece }
    bookedHere.add(queued)
    return queued
  }
  const replyTo = async (queued: Queued): Promise<PieceReply & { queued: Queued }> => {
    if (queued.retryAfterMs !== undefined) return { response: { ok: false, reason: 'busy', retryAfterMs: queued.retryAfterMs }, queued }
    const reply = await pieceReply(tasks, queued.request, init).catch((error: unknown): PieceReply => {
      log.debug('reading a block for a peer failed', { error })
      return { response: { ok: false, reason: 'error' } }
    })
    if (reply.data === undefined) unbook(queued)
    return { ...reply, queued }
  }
  const unbook = (queued: Queued): void => {
    if (bookedHere.delete(queued)) uploads?.cancel(queued.request.length, queued.piece)
  }
  const serveQueue = async (): Promise<void> => {
    if (serving) return
    serving = true
    // The next block is read from disk while this one is sent.
    let next = queue.length > 0 ? replyTo(queue.shift()!) : undefined
    try {
      while (next !== undefined && !lifetime.signal.aborted) {
        const reply = await next
        next = queue.length > 0 ? replyTo(queue.shift()!) : undefined
        await send(reply)
        next ??= queue.length > 0 ? replyTo(queue.shift()!) : undefined
      }
    } catch (error) {
      if (!lifetime.signal.aborted) fail(error)
    } finally {
      serving = false
      // A block read ahead and never sent (the connection closed): its memory can be reused.
      void next?.then(reply => { reply.release?.(true) })
    }
  }
  const send = async (reply: PieceReply & { queued: Queued }): Promise<void> => {
    const data = reply.data
    if (data === undefined || !reply.response.ok) {
      sealer.write(socket, [encodeFrame(reply.response)])
      return
    }
    // The block's memory goes back once the last record written from it called back (writes
    // complete in order); if the loop stops before, after a write or not, it is never reused.
    let handedOn = false
    let release: UploadRelease | undefined
    let delivered: Promise<void> | undefined
    try {
      release = bookedHere.has(reply.queued) ? await uploads?.turn(reply.queued.request.length, lifetime.signal, reply.queued.piece, socket) : undefined
      // From here the turn owns the booking: its release gives it back.
      if (release !== undefined) bookedHere.delete(reply.queued)
      sealer.write(socket, [encodeFrame(reply.response)])
      // The verified buffers go out as they were read: a plain record is written from them
      // (corked, no copy), an encrypted one is sealed from them.
      const records = [...slices(data, init.pace !== undefined ? pacedSliceBytes : delivery !== undefined ? ackedRecordBytes : maxRecordBytes)]
      for (const [index, part] of records.entries()) {
        await init.pace?.(part.length, lifetime.signal)
        const last = index === records.length - 1
        sealer.write(socket, [part], last ? reply.release : undefined)
        handedOn ||= last
        delivery?.wrote(part.length)
        init.onSent?.(part.length)
        if (socket.writableLength > writeQueueBytes) await drained(socket, lifetime.signal)
      }
      if (records.length === 0) reply.release?.(true)
      handedOn = true
      // The link is this block's until its bytes have left the process ('drain' comes only
      // after a write that found the buffer full: writableNeedDrain); another connection's
      // turn waits further, until all but its last record arrived (delivery.ts).
      if (release !== undefined && socket.writableNeedDrain) await drained(socket, lifetime.signal)
      if (release !== undefined && delivery?.usable === true) delivered = delivery.nearlyDelivered(records[records.length - 1]?.length ?? 0, init.ackWaitMs ?? defaultAckWaitMs, lifetime.signal).catch(() => {})
    } finally {
      release?.(delivered)
      if (!handedOn) reply.release?.(false)
    }
    init.onServed?.(reply.response.length)
    if (delivery === undefined) init.onArrived?.(reply.response.length)
  }
  const onData = (chunk: Buffer): void => {
    try {
      opener.feed(chunk)
    } catch (error) {
      fail(error)
    }
  }
  socket.on('data', onData)
  socket.on('close', () => {
    lifetime.abort()
    for (const queued of bookedHere) unbook(queued)
  })
  // The first record proves to the downloader that this side holds the key.
  sealer.write(socket, [])
  if (leftover.length > 0) onData(leftover)
}
