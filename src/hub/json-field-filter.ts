import { Transform, type TransformCallback } from 'node:stream'

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const SPACE = 0x20
const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
/** A member name longer than this (raw, escapes included) is never one to drop: it streams through. */
const MAX_NAME_BYTES = 512

type Destination = 'emit' | 'hold' | 'drop'

interface Container {
  object: boolean
  /** A member of this object has been sent: a later kept member needs its comma. */
  emitted: boolean
}

/**
 * Streams a JSON document with every object member whose name is in `names` removed, at any
 * depth; every other byte goes through as the upstream wrote it (same values, same order, same
 * spacing), so a Hub listing keeps its exact shape. Memory is bounded: nothing is kept but the
 * nesting stack and the bytes between a comma and the member name after it (the name decides
 * whether that comma stays). Not a validator: a malformed document comes out as malformed.
 */
export class JsonFieldFilter extends Transform {
  /** Members removed so far. */
  removed = 0
  private readonly names: ReadonlySet<string>
  /** The names as they appear unescaped between quotes, for the fast path. */
  private readonly rawNames: Buffer[]
  private readonly stack: Container[] = []
  private inString = false
  private escaped = false
  /** In an object after `{` or `,`: the next string is a member name. */
  private expectName = false
  /** A comma (and the whitespace after it) held until the next name decides its fate. */
  private holdingComma = false
  private collectingName = false
  private held: Buffer[] = []
  private heldBytes = 0
  /** Where the name being collected starts in `held`. */
  private nameStart = 0
  /** Stack depth of the object whose dropped member's value is being skipped; -1: none. */
  private dropDepth = -1
  // The run of bytes of the current chunk that share one destination.
  private chunk: Buffer = Buffer.alloc(0)
  private runStart = 0
  private runDestination: Destination = 'emit'
  private out: Buffer[] = []
  /** Where the next backslash of the chunk is (its length: none), found once per chunk pass. */
  private nextBackslash = -1

  constructor (names: Iterable<string>) {
    super()
    this.names = new Set(names)
    this.rawNames = [...this.names].map(name => Buffer.from(JSON.stringify(name).slice(1, -1)))
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.chunk = chunk
    this.runStart = 0
    this.out = []
    this.nextBackslash = -1
    let i = 0
    while (i < chunk.length) {
      i = this.inString ? this.stringRun(i) : this.step(chunk[i]!, i)
    }
    this.flushRun(chunk.length)
    this.chunk = Buffer.alloc(0)
    if (this.out.length > 0) this.push(this.out.length === 1 ? this.out[0] : Buffer.concat(this.out))
    callback()
  }

  override _flush (callback: TransformCallback): void {
    // A document cut short: whatever was held is the upstream's, so it goes out.
    if (this.heldBytes > 0) this.push(Buffer.concat(this.held))
    this.held = []
    callback()
  }

  /** Inside a string from `i`: jumps to its closing quote or next backslash; returns where to go on. */
  private stringRun (i: number): number {
    const chunk = this.chunk
    this.put(i, this.dropDepth >= 0 ? 'drop' : this.collectingName ? 'hold' : 'emit')
    if (this.escaped) {
      this.escaped = false
      return i + 1
    }
    if (this.nextBackslash < i) {
      const found = chunk.indexOf(BACKSLASH, i)
      this.nextBackslash = found === -1 ? chunk.length : found
    }
    const quote = chunk.indexOf(QUOTE, i)
    const stop = Math.min(quote === -1 ? chunk.length : quote, this.nextBackslash)
    if (this.collectingName && this.heldBytes + stop - this.runStart > MAX_NAME_BYTES) {
      // Too long to be a name to drop: it streams through as it is.
      this.flushRun(stop)
      this.release()
      this.put(stop, 'emit')
    }
    if (stop >= chunk.length) return chunk.length
    if (stop === this.nextBackslash) {
      this.escaped = true
      return stop + 1
    }
    this.inString = false
    if (this.collectingName) {
      this.flushRun(stop + 1)
      this.decideName()
    }
    return stop + 1
  }

  /** One byte outside strings (a whole name, when it lies in the chunk); returns where to go on. */
  private step (byte: number, i: number): number {
    if (this.dropDepth >= 0) {
      if (this.stack.length === this.dropDepth && (byte === COMMA || byte === CLOSE_OBJECT)) {
        this.dropDepth = -1
      } else {
        this.put(i, 'drop')
        if (byte === QUOTE) this.inString = true
        else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) this.stack.push({ object: byte === OPEN_OBJECT, emitted: false })
        else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) this.stack.pop()
        return i + 1
      }
    }
    const top = this.stack[this.stack.length - 1]
    if (byte === SPACE || byte === TAB || byte === LF || byte === CR) {
      this.put(i, this.holdingComma ? 'hold' : 'emit')
      return i + 1
    }
    if (byte === QUOTE && top?.object === true && this.expectName) {
      this.expectName = false
      return this.name(i)
    }
    if (byte === COMMA && top?.object === true) {
      this.expectName = true
      if (top.emitted) {
        this.holdingComma = true
        this.put(i, 'hold')
      } else {
        // Every member before it was dropped: the next one kept becomes the first.
        this.put(i, 'drop')
      }
      return i + 1
    }
    // Anything else means no name follows a held comma (a malformed document): let it go.
    if (this.holdingComma) {
      this.flushRun(i)
      this.release()
    }
    this.put(i, 'emit')
    if (byte === QUOTE) this.inString = true
    else if (byte === OPEN_OBJECT) {
      this.stack.push({ object: true, emitted: false })
      this.expectName = true
    } else if (byte === OPEN_ARRAY) {
      this.stack.push({ object: false, emitted: false })
      this.expectName = false
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      this.stack.pop()
      this.expectName = false
    } else if (byte === COMMA) {
      this.expectName = false
    }
    return i + 1
  }

  /**
   * A member name starts at `i`. Decided on the spot when it lies whole in the chunk without
   * escapes (nearly always); otherwise collected in `held` until its closing quote.
   */
  private name (i: number): number {
    const chunk = this.chunk
    const quote = chunk.indexOf(QUOTE, i + 1)
    if (this.nextBackslash <= i) {
      const found = chunk.indexOf(BACKSLASH, i)
      this.nextBackslash = found === -1 ? chunk.length : found
    }
    if (quote !== -1 && quote < this.nextBackslash) {
      const raw = chunk.subarray(i + 1, quote)
      if (this.rawNames.some(name => name.equals(raw))) {
        this.put(i, 'drop')
        this.held = []
        this.heldBytes = 0
        this.holdingComma = false
        this.dropDepth = this.stack.length
        this.removed++
      } else {
        this.flushRun(i)
        this.release()
        this.put(i, 'emit')
      }
      return quote + 1
    }
    this.inString = true
    this.collectingName = true
    this.put(i, 'hold')
    this.flushRun(i)
    this.nameStart = this.heldBytes
    return i + 1
  }

  /** The member name just ended: drop the member (and the comma before it) or send both. */
  private decideName (): void {
    const held = Buffer.concat(this.held)
    let name: unknown
    try {
      name = JSON.parse(held.subarray(this.nameStart).toString('utf8'))
    } catch {}
    if (typeof name === 'string' && this.names.has(name)) {
      this.held = []
      this.heldBytes = 0
      this.holdingComma = false
      this.collectingName = false
      this.dropDepth = this.stack.length
      this.removed++
      return
    }
    this.held = [held]
    this.release()
  }

  /** Sends what was held: the member (whose name is being read) is kept. */
  private release (): void {
    this.out.push(...this.held)
    this.held = []
    this.heldBytes = 0
    this.holdingComma = false
    this.collectingName = false
    const top = this.stack[this.stack.length - 1]
    if (top !== undefined) top.emitted = true
  }

  private put (i: number, destination: Destination): void {
    if (destination === this.runDestination) return
    this.flushRun(i)
    this.runDestination = destination
  }

  /** Hands the bytes of the current run up to `end` to their destination. */
  private flushRun (end: number): void {
    if (end <= this.runStart) return
    const bytes = this.chunk.subarray(this.runStart, end)
    if (this.runDestination === 'emit') this.out.push(bytes)
    else if (this.runDestination === 'hold') {
      // A copy: a held slice must not pin the whole chunk.
      this.held.push(Buffer.from(bytes))
      this.heldBytes += bytes.length
    }
    this.runStart = end
  }
}
