import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { HashReply, HashRequest, WholeFeedRequest } from './hash-thread.js'
import { IdleRelease } from './idle-release.js'
import { WholeFileHash, wholeWindowBytes, type WholeFeed } from './whole-file-hash.js'

/**
 * sha256 on worker threads, so the event loop only moves buffers: running streams (a whole
 * piece), whole-file hashes fed by offset (openWholeFileHash: blocks offered as they land, in
 * the same trip as their own hash, and read buffers moved there and back), whole blocks (moved
 * there and back, no copy), blocks as the parts they arrived in (moved there when given up, else
 * copied) and read buffers fed to a stream (moved there and back). WebCrypto's digest on the
 * libuv pool was measured to keep the loop nearly as busy as hashing on it
 * (scripts/bench-hashing.ts). Each stream stays on one thread (a running hash is sequential);
 * streams and blocks go to the least loaded thread, except blocks offered to a whole-file hash,
 * which go to its thread. A thread keeps the process alive only while it has streams open.
 */

/** Bytes a stream may have waiting on its thread before `update` waits. */
const maxPendingBytes = 8 * 1024 * 1024

export interface HashStream {
  /** Copies `data` to the hashing thread; resolves at once unless too many bytes are waiting. */
  update: (data: Uint8Array) => Promise<void>
  /**
   * Feeds a whole block to the running hash and returns the block's own sha256 too, from one
   * trip to the thread: `data` moves there and back like hashBlock's (use the returned buffer).
   * With `whole` (a whole-file hash on the same thread, else ignored) the block is offered to
   * it as well (a block it parks is copied there: `data` still comes back).
   */
  block: (data: Buffer, whole?: WholeFeed) => Promise<{ data: Buffer, digest: Buffer }>
  /**
   * Feeds the first `length` bytes of `data` to the running hash without a copy: `data` moves to
   * the thread and back (detached meanwhile); resolves with the same memory once hashed. `data`
   * must own its memory (ownsMemory).
   */
  feed: (data: Buffer, length?: number) => Promise<Buffer>
  /**
   * A whole block given as the parts it arrived in: fed to the running hash, and its own sha256
   * returned, from one trip to the thread (see hashParts for which parts are copied).
   */
  blockParts: (parts: readonly Buffer[], movable?: ReadonlySet<Buffer>, whole?: WholeFeed) => Promise<Buffer>
  /** The sha256 of everything passed to `update`, `feed`, `block` and `hashParts`. */
  digest: () => Promise<Buffer>
  /** Forgets the stream (an abandoned piece). */
  drop: () => void
}

interface StreamState {
  pending: number
  wake?: () => void
  done?: (digest: Buffer, data?: Buffer) => void
  fail?: (error: Error) => void
}

const emptyDigest = Buffer.alloc(0)

/**
 * True when `bytes` is the whole of memory of its own, which can be moved to another thread
 * (detaching it here) without taking anything else along. A view into a larger buffer (a pooled
 * chunk, a slab) is not.
 */
export function ownsMemory (bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer)
}

/** True when `bytes` lives in memory shared with other threads: sent to one, it is not copied. */
export function isShared (bytes: Uint8Array): boolean {
  return bytes.buffer instanceof SharedArrayBuffer
}

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

class HashThread {
  private readonly worker: Worker
  private readonly streams = new Map<number, StreamState>()
  /** Whole-file hashes living on this thread, told of each reply about them. */
  private readonly wholes = new Map<number, WholeFileHash>()
  private nextId = 0
  private broken?: Error

  constructor () {
    this.worker = new Worker(new URL('./hash-thread.js', import.meta.url))
    this.worker.on('message', (reply: HashReply) => {
      if (reply.op !== 'hashed' && reply.whole !== undefined) this.wholes.get(reply.whole.id)?.news(reply.whole)
      const state = this.streams.get(reply.id)
      if (state === undefined) return
      if (reply.op === 'hashed') {
        state.pending -= reply.bytes
        if (state.pending <= maxPendingBytes) this.wake(state)
        return
      }
      this.close(reply.id)
      if (reply.op === 'fed') state.done?.(emptyDigest, toBuffer(reply.data))
      else state.done?.(toBuffer(reply.digest), reply.op === 'block' ? toBuffer(reply.data) : undefined)
    })
    this.worker.on('error', (error) => { this.fail(error) })
    this.worker.on('exit', () => { this.fail(new Error('hash thread exited')) })
    // After the listeners: adding a 'message' listener refs the worker again.
    this.worker.unref()
  }

  private open (id: number, state: StreamState): void {
    if (this.streams.size === 0) this.worker.ref()
    this.streams.set(id, state)
  }

  private close (id: number): boolean {
    if (!this.streams.delete(id)) return false
    if (this.streams.size === 0) this.worker.unref()
    return true
  }

  get healthy (): boolean {
    return this.broken === undefined
  }

  get load (): number {
    return this.streams.size
  }

  stream (): HashStream {
    const id = this.nextId++
    const state: StreamState = { pending: 0 }
    this.open(id, state)
    const post = (request: HashRequest, transfer?: ArrayBuffer[]): void => {
      if (this.broken !== undefined) throw this.broken
      this.worker.postMessage(request, transfer)
    }
    return {
      update: async (data) => {
        // A copy of exactly these bytes, moved (not cloned again) to the thread.
        const copy = new Uint8Array(data)
        state.pending += copy.byteLength
        post({ op: 'update', id, data: copy }, [copy.buffer])
        if (state.pending > maxPendingBytes) await new Promise<void>((resolve) => { state.wake = resolve })
        if (this.broken !== undefined) throw this.broken
      },
      block: async (data, whole) => await this.block(data, id, false, whole),
      feed: async (data, length = data.length) => await this.feed(data, length, id),
      blockParts: async (parts, movable = new Set(), whole) => await this.parts(parts, movable, id, whole),
      digest: async () => await new Promise<Buffer>((resolve, reject) => {
        state.done = resolve
        state.fail = reject
        post({ op: 'digest', id })
      }),
      drop: () => {
        if (!this.close(id)) return
        this.wake(state)
        if (this.broken === undefined) this.worker.postMessage({ op: 'drop', id } satisfies HashRequest)
      }
    }
  }

  /** See hashBlock; `inPlace`: see hashBlockInPlace; `whole`: see HashStream.block. */
  async block (data: Buffer, stream?: number, inPlace = false, whole?: WholeFeed): Promise<{ data: Buffer, digest: Buffer }> {
    if (this.broken !== undefined) throw this.broken
    const id = this.nextId++
    // A buffer that owns its whole memory moves to the thread and back; a view into shared
    // memory (a pooled chunk) is copied first, since moving it would take its neighbours along.
    const owned = (inPlace || (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength)) && !(data.buffer instanceof SharedArrayBuffer)
    // (A fresh ArrayBuffer: Buffer.from may copy into the shared pool, which must never move.)
    const moving = owned ? data : Buffer.from(new Uint8Array(data).buffer)
    const feed = this.feedRequest(whole)
    return await new Promise((resolve, reject) => {
      this.open(id, { pending: 0, done: (digest, back) => { resolve({ data: back ?? moving, digest }) }, fail: reject })
      this.worker.postMessage({ op: 'block', id, data: moving, ...(stream === undefined ? {} : { stream }), ...(feed === undefined ? {} : { whole: feed }) } satisfies HashRequest, [moving.buffer as ArrayBuffer])
    })
  }

  /** The request offering a block to a whole-file hash; undefined when it lives on another thread. */
  private feedRequest (whole?: WholeFeed): WholeFeedRequest | undefined {
    if (whole === undefined || whole.hash.owner !== this) return undefined
    return { id: whole.hash.id, offset: whole.offset, ...(whole.expect === undefined ? {} : { expect: whole.expect }) }
  }

  /** A whole-file hash of `length` bytes on this thread (see WholeFileHash). */
  whole (length: number, windowBytes: number): WholeFileHash {
    const id = this.nextId++
    const state: StreamState = { pending: 0 }
    this.open(id, state)
    this.worker.postMessage({ op: 'whole-open', id, windowBytes } satisfies HashRequest)
    const hash = new WholeFileHash(length, windowBytes, {
      owner: this,
      id,
      stream: () => this.stream(),
      readBack: async (data, length, offset) => await this.readBack(data, length, offset, id),
      digest: async () => await new Promise<Buffer>((resolve, reject) => {
        if (this.broken !== undefined) throw this.broken
        state.done = resolve
        state.fail = reject
        this.worker.postMessage({ op: 'digest', id } satisfies HashRequest)
      }).finally(() => { this.wholes.delete(id) }),
      drop: () => {
        this.wholes.delete(id)
        if (!this.close(id)) return
        if (this.broken === undefined) this.worker.postMessage({ op: 'drop', id } satisfies HashRequest)
      }
    })
    this.wholes.set(id, hash)
    return hash
  }

  private async readBack (data: Buffer, length: number, offset: number, whole: number): Promise<Buffer> {
    if (this.broken !== undefined) throw this.broken
    if (!ownsMemory(data)) throw new RangeError('readBack takes a buffer that owns its memory')
    const id = this.nextId++
    return await new Promise((resolve, reject) => {
      this.open(id, { pending: 0, done: (_digest, back) => { resolve(back!) }, fail: reject })
      this.worker.postMessage({ op: 'whole-read', id, whole, offset, data, length } satisfies HashRequest, [data.buffer as ArrayBuffer])
    })
  }

  private async feed (data: Buffer, length: number, stream: number): Promise<Buffer> {
    if (this.broken !== undefined) throw this.broken
    if (!ownsMemory(data)) throw new RangeError('feed takes a buffer that owns its memory')
    const id = this.nextId++
    return await new Promise((resolve, reject) => {
      this.open(id, { pending: 0, done: (_digest, back) => { resolve(back!) }, fail: reject })
      this.worker.postMessage({ op: 'feed', id, stream, data, length } satisfies HashRequest, [data.buffer as ArrayBuffer])
    })
  }

  /** See hashParts. */
  async parts (parts: readonly Buffer[], movable: ReadonlySet<Buffer>, stream?: number, whole?: WholeFeed): Promise<Buffer> {
    if (this.broken !== undefined) throw this.broken
    const id = this.nextId++
    const transfer: ArrayBuffer[] = []
    const sent = parts.map(part => {
      if (isShared(part)) return part
      if (movable.has(part)) {
        // The caller vouches that nothing else lives in this memory: the view moves with it.
        if (!transfer.includes(part.buffer as ArrayBuffer)) transfer.push(part.buffer as ArrayBuffer)
        return part
      }
      // A copy of exactly these bytes, in memory of its own that moves (a view would be cloned whole).
      const copy = new Uint8Array(part)
      transfer.push(copy.buffer)
      return copy
    })
    const feed = this.feedRequest(whole)
    return await new Promise((resolve, reject) => {
      this.open(id, { pending: 0, done: (digest) => { resolve(digest) }, fail: reject })
      this.worker.postMessage({ op: 'parts', id, parts: sent, ...(stream === undefined ? {} : { stream }), ...(feed === undefined ? {} : { whole: feed }) } satisfies HashRequest, transfer)
    })
  }

  private wake (state: StreamState): void {
    const wake = state.wake
    state.wake = undefined
    wake?.()
  }

  /** Ends the thread (it has no work): its memory goes back to the system. */
  end (): void {
    this.broken ??= new Error('hash thread ended')
    this.worker.terminate().catch(() => {})
  }

  private fail (error: Error): void {
    this.broken ??= error
    for (const state of this.streams.values()) {
      this.wake(state)
      state.fail?.(error)
    }
    this.streams.clear()
    this.worker.unref()
  }
}

let threads: HashThread[] | undefined

/**
 * Threads with no work for this long are ended, and started again by the next hash (tens of
 * milliseconds). Each keeps an isolate (~12 MB idle) and, after a download, the garbage of what
 * it hashed, which an idle thread never collects: 512 MiB hashed left RSS 55 MB higher.
 */
const threadIdleMs = 30_000
const idleThreads = new IdleRelease({
  idleMs: threadIdleMs,
  busy: hashing,
  release: () => { endIdleHashThreads() }
})

/** Some thread has work. */
function hashing (): boolean {
  return threads?.some(thread => thread.load > 0) === true
}

/**
 * Ends the hashing threads if none has work; true when it did. They are ended on their own
 * once idle for a while; tests call this to check a hash after it still works.
 */
export function endIdleHashThreads (): boolean {
  if (threads === undefined || hashing()) return false
  for (const thread of threads) thread.end()
  threads = undefined
  idleThreads.stop()
  return true
}

function leastLoaded (): HashThread {
  idleThreads.touch()
  // One thread per core beyond the event loop's, at most four: a running hash is one core's work.
  threads ??= Array.from({ length: Math.max(1, Math.min(4, availableParallelism() - 1)) }, () => new HashThread())
  // A thread that died is replaced; its streams failed with it.
  threads = threads.map(thread => thread.healthy ? thread : new HashThread())
  let best = threads[0]!
  for (const thread of threads) if (thread.load < best.load) best = thread
  return best
}

/**
 * The sha256 of one block given as `parts` (in order), in one trip to a hashing thread. No part is copied when it can be helped: a part
 * in shared memory is shared, the memory under a part in `movable` is moved there whole (it is
 * detached here: the caller vouches that it holds nothing else it still needs), any other part
 * is copied.
 */
export async function hashParts (parts: readonly Buffer[], movable: ReadonlySet<Buffer> = new Set(), whole?: WholeFeed): Promise<Buffer> {
  return await threadOf(whole).parts(parts, movable, undefined, whole)
}

/** The thread a block offered to `whole` goes to (the whole-file hash's, so one trip does both), else the least loaded. */
function threadOf (whole?: WholeFeed): HashThread {
  const owner = whole?.hash.owner
  if (!(owner instanceof HashThread) || !owner.healthy || threads?.includes(owner) !== true) return leastLoaded()
  idleThreads.touch()
  return owner
}

/**
 * A new whole-file sha256 of `length` bytes on the least loaded hashing thread, fed by offset:
 * blocks offered with their own hash (hashParts, hashBlock, a stream's block calls) as they
 * land, the rest read back from disk (task/whole-file-check.ts).
 */
export function openWholeFileHash (length: number, windowBytes = wholeWindowBytes): WholeFileHash {
  return leastLoaded().whole(length, windowBytes)
}

/** A new running sha256 on the least loaded hashing thread. */
export function hashStream (): HashStream {
  return leastLoaded().stream()
}

/**
 * The sha256 of one whole buffer on a hashing thread. `data` is moved there and back when it
 * owns its memory (it is detached meanwhile: use the returned `data`, the same bytes), else
 * copied. What the hit path uses: the buffer that was hashed is the one sent.
 */
export async function hashBlock (data: Buffer): Promise<{ data: Buffer, digest: Buffer }> {
  return await leastLoaded().block(data)
}

/** hashBlock that also offers the block to a whole-file hash (on its thread, in the same trip). */
export async function hashBlockFor (data: Buffer, whole: WholeFeed): Promise<{ data: Buffer, digest: Buffer }> {
  return await threadOf(whole).block(data, undefined, false, whole)
}

/**
 * hashBlock for a view whose whole ArrayBuffer belongs to the caller (a buffer from a pool of
 * size classes, larger than the view): the whole memory moves there and back, no copy, and the
 * returned `data` is the same view. (Added for the verified reader's recycled buffers.)
 */
export async function hashBlockInPlace (data: Buffer): Promise<{ data: Buffer, digest: Buffer }> {
  return await leastLoaded().block(data, undefined, true)
}
