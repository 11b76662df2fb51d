import type { Stream } from '@libp2p/interface'
import { byteStream, type ByteStream } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { z } from 'zod'
import { DamselflyError } from '../errors.js'
import type { Message, MessageKind } from './messages.js'
import type { WireDialect } from './wire-versions.js'

/** A peer broke the protocol: bad frame, bad JSON, a message that fails its schema. */
export class ProtocolError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_PEER_PROTOCOL', message, options)
  }
}

/** This node cannot say a message in the wire version a peer speaks (a bug: see wire-versions.ts). */
export class WireVersionError extends DamselflyError {
  constructor (message: string) {
    super('ERR_WIRE_VERSION', message)
  }
}

/** Control frames are small: a 4-byte big-endian length, then JSON. */
const maxFrameBytes = 4 * 1024 * 1024

export type Wire = ByteStream<Stream>

/** Wraps a stream so that reads wait for exact byte counts and writes respect back-pressure. */
export function wire (stream: Stream, maxBufferBytes: number): Wire {
  return byteStream(stream, { maxBufferSize: maxBufferBytes })
}

export async function writeFrame (wire: Wire, value: unknown, signal?: AbortSignal): Promise<void> {
  const json = Buffer.from(JSON.stringify(value))
  const frame = Buffer.allocUnsafe(4 + json.length)
  frame.writeUInt32BE(json.length, 0)
  json.copy(frame, 4)
  await wire.write(frame, { signal })
}

export async function readFrame<T> (wire: Wire, schema: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
  const header = await wire.read({ bytes: 4, signal })
  const length = Buffer.from(header.subarray()).readUInt32BE(0)
  if (length > maxFrameBytes) throw new ProtocolError(`frame of ${length} bytes is over the ${maxFrameBytes}-byte limit`)
  const body = await wire.read({ bytes: length, signal })
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(body.subarray()).toString('utf8'))
  } catch (error) {
    throw new ProtocolError('frame is not JSON', { cause: error })
  }
  const result = schema.safeParse(parsed)
  if (!result.success) throw new ProtocolError(`unexpected message: ${result.error.issues[0]?.message ?? 'invalid'}`)
  return result.data
}

/** Writes `message` in the shapes of the wire version agreed for this stream. */
export async function writeMessage<K extends MessageKind> (wire: Wire, dialect: WireDialect, kind: K, message: Message<K>, signal?: AbortSignal): Promise<void> {
  await writeFrame(wire, dialect.encode(kind, message), signal)
}

/** Reads one message of `kind` as the wire version agreed for this stream decodes it. */
export async function readMessage<K extends MessageKind> (wire: Wire, dialect: WireDialect, kind: K, signal?: AbortSignal): Promise<Message<K>> {
  return await readFrame(wire, dialect.decode[kind], signal)
}

/** Exactly `length` payload bytes, as the chunks they arrived in (no copy). */
export async function readPayload (wire: Wire, length: number, signal?: AbortSignal): Promise<Uint8ArrayList> {
  return await wire.read({ bytes: length, signal })
}
