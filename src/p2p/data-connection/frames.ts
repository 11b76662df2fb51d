import { ProtocolError } from '../wire.js'

/** Header frames are small JSON messages (a piece request or response header). */
export const maxHeaderBytes = 64 * 1024

/** `length (4, big-endian) ‖ JSON`: the same frame `/damselfly/piece/1.0.0` speaks. */
export function encodeFrame (value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value))
  const frame = Buffer.allocUnsafe(4 + json.length)
  frame.writeUInt32BE(json.length, 0)
  json.copy(frame, 4)
  return frame
}

export interface FrameHandler {
  /** A header arrived; returns how many raw payload bytes follow it. */
  header: (value: unknown) => number
  /** Payload bytes, as views of the chunks they arrived in. */
  payload: (chunk: Buffer) => void
  /** The payload announced by the last header is complete. */
  end: () => void
}

/**
 * Cuts a plaintext byte stream into header frames, each followed by its payload. The header's
 * few bytes are copied together; payload bytes never are.
 */
export class FrameReader {
  private readonly handler: FrameHandler
  private readonly length = Buffer.alloc(4)
  private lengthHave = 0
  private json?: Buffer
  private jsonHave = 0
  private payloadLeft = 0
  private state: 'length' | 'json' | 'payload' = 'length'

  constructor (handler: FrameHandler) {
    this.handler = handler
  }

  /** True between messages: nothing of a frame or payload is pending. */
  get idle (): boolean {
    return this.state === 'length' && this.lengthHave === 0
  }

  push (chunk: Buffer): void {
    let position = 0
    while (position < chunk.length) {
      if (this.state === 'length') {
        const take = Math.min(4 - this.lengthHave, chunk.length - position)
        chunk.copy(this.length, this.lengthHave, position, position + take)
        this.lengthHave += take
        position += take
        if (this.lengthHave < 4) continue
        this.lengthHave = 0
        const size = this.length.readUInt32BE(0)
        if (size > maxHeaderBytes) throw new ProtocolError(`frame of ${size} bytes is over the ${maxHeaderBytes}-byte limit`)
        this.json = Buffer.allocUnsafe(size)
        this.jsonHave = 0
        this.state = 'json'
        if (size === 0) this.parse()
      } else if (this.state === 'json') {
        const json = this.json!
        const take = Math.min(json.length - this.jsonHave, chunk.length - position)
        chunk.copy(json, this.jsonHave, position, position + take)
        this.jsonHave += take
        position += take
        if (this.jsonHave === json.length) this.parse()
      } else {
        const take = Math.min(this.payloadLeft, chunk.length - position)
        this.handler.payload(chunk.subarray(position, position + take))
        position += take
        this.payloadLeft -= take
        if (this.payloadLeft === 0) this.finish()
      }
    }
  }

  private parse (): void {
    let value: unknown
    try {
      value = JSON.parse(this.json!.toString('utf8'))
    } catch (error) {
      throw new ProtocolError('frame is not JSON', { cause: error })
    }
    this.json = undefined
    this.payloadLeft = this.handler.header(value)
    this.state = 'payload'
    if (this.payloadLeft === 0) this.finish()
  }

  private finish (): void {
    this.state = 'length'
    this.handler.end()
  }
}
