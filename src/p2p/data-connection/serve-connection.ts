import type { Socket } from 'node:net'
import type { Logger } from '../../logging/logger.js'
import type { LocalTasks } from '../local-tasks.js'
import { pieceRequest, type PieceRequest } from '../messages.js'
import { pacedSliceBytes, pieceReply, slices, type PieceReply, type PieceServerInit } from '../piece-protocol.js'
import { ProtocolError } from '../wire.js'
import { encodeFrame, FrameReader } from './frames.js'
import { maxRecordBytes, RecordOpener, RecordSealer, type RecordKey } from './records.js'
import { drained } from './socket-wait.js'

/** Requests a downloader may queue on one connection before it is a protocol breach. */
export const maxQueuedRequests = 32
/** Bytes queued on the socket before the server waits for a drain. */
const writeQueueBytes = 4 * 1024 * 1024

export interface ServeConnectionInit extends PieceServerInit {
  /** Protects what the downloader sends (its requests). */
  requests: RecordKey
  /** Protects what this node sends (headers and block bytes). */
  responses: RecordKey
  onSent?: (bytes: number) => void
}

/**
 * Serves piece requests on an accepted data connection, one at a time in the order they came
 * (the downloader pipelines them): each answer is the same header frame `/damselfly/piece/1.0.0`
 * sends, then the block's bytes in records of ≤ 1 MiB. `leftover` is what arrived after the token.
 */
export function serveConnection (socket: Socket, leftover: Buffer, tasks: LocalTasks, log: Logger, init: ServeConnectionInit): void {
  const lifetime = new AbortController()
  const sealer = new RecordSealer(init.responses)
  const queue: PieceRequest[] = []
  let serving = false
  const fail = (error: unknown): void => {
    log.debug('data connection failed', { error })
    socket.destroy()
  }
  const frames = new FrameReader({
    header: (value) => {
      const parsed = pieceRequest.safeParse(value)
      if (!parsed.success) throw new ProtocolError(`unexpected message: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
      if (queue.length >= maxQueuedRequests) throw new ProtocolError(`more than ${maxQueuedRequests} requests queued`)
      queue.push(parsed.data)
      void serveQueue()
      return 0
    },
    payload: () => {},
    end: () => {}
  })
  const opener = new RecordOpener(init.requests, (chunks) => { for (const chunk of chunks) frames.push(chunk) })
  const replyTo = async (request: PieceRequest): Promise<PieceReply> => await pieceReply(tasks, request, init).catch((error: unknown) => {
    log.debug('reading a block for a peer failed', { error })
    return { response: { ok: false, reason: 'error' } }
  })
  const serveQueue = async (): Promise<void> => {
    if (serving) return
    serving = true
    try {
      // The next block is read from disk while this one is sent.
      let next = queue.length > 0 ? replyTo(queue.shift()!) : undefined
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
    }
  }
  const send = async (reply: PieceReply): Promise<void> => {
    sealer.write(socket, [encodeFrame(reply.response)])
    const data = reply.data
    if (data === undefined) return
    // The verified buffers go out as they were read: a plain record is written from them
    // (corked, no copy), an encrypted one is sealed from them.
    for (const part of slices(data, init.pace === undefined ? maxRecordBytes : pacedSliceBytes)) {
      await init.pace?.(part.length, lifetime.signal)
      sealer.write(socket, [part])
      init.onSent?.(part.length)
      if (socket.writableLength > writeQueueBytes) await drained(socket, lifetime.signal)
    }
    init.onServed?.(reply.response.ok ? reply.response.length : 0)
  }
  const onData = (chunk: Buffer): void => {
    try {
      opener.feed(chunk)
    } catch (error) {
      fail(error)
    }
  }
  socket.on('data', onData)
  socket.on('close', () => { lifetime.abort() })
  // The first record proves to the downloader that this side holds the key.
  sealer.write(socket, [])
  if (leftover.length > 0) onData(leftover)
}
