import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { HashReply, HashRequest } from './hash-thread.js'

/**
 * sha256 on worker threads, so the event loop only moves buffers: running streams (a whole
 * piece, the whole file: their bytes are copied over) and whole blocks (moved there and back,
 * no copy). WebCrypto's digest on the libuv pool was measured to keep the loop nearly as busy
 * as hashing on it (scripts/bench-hashing.ts). Each stream stays on one thread (a running hash
 * is sequential); streams and blocks go to the least loaded thread. A thread keeps the process alive only
 * while it has streams open.
 */

/** Bytes a stream may have waiting on its thread before `update` waits. */
const maxPendingBytes = 8 * 1024 * 1024

export interface HashStream {
  /** Copies `data` to the hashing thread; resolves at once unless too many bytes are waiting. */
  update: (data: Uint8Array) => Promise<void>
  /**
   * Feeds a whole block to the running hash and returns the block's own sha256 too, from one
   * trip to the thread: `data` moves there and back like hashBlock's (use the returned buffer).
   */
  block: (data: Buffer) => Promise<{ data: Buffer, digest: Buffer }>
  /** The sha256 of everything passed to `update` and `block`. */
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

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

class HashThread {
  private readonly worker: Worker
  private readonly streams = new Map<number, StreamState>()
  private nextId = 0
  private broken?: Error

  constructor () {
    this.worker = new Worker(new URL('./hash-thread.js', import.meta.url))
    this.worker.on('message', (reply: HashReply) => {
      const state = this.streams.get(reply.id)
      if (state === undefined) return
      if (reply.op === 'hashed') {
        state.pending -= reply.bytes
        if (state.pending <= maxPendingBytes) this.wake(state)
        return
      }
      this.close(reply.id)
      state.done?.(toBuffer(reply.digest), reply.op === 'block' ? toBuffer(reply.data) : undefined)
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
      block: async (data) => await this.block(data, id),
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

  /** See hashBlock; `whole`: see hashBlockInPlace. */
  async block (data: Buffer, stream?: number, whole = false): Promise<{ data: Buffer, digest: Buffer }> {
    if (this.broken !== undefined) throw this.broken
    const id = this.nextId++
    // A buffer that owns its whole memory moves to the thread and back; a view into shared
    // memory (a pooled chunk) is copied first, since moving it would take its neighbours along.
    const owned = (whole || (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength)) && !(data.buffer instanceof SharedArrayBuffer)
    // (A fresh ArrayBuffer: Buffer.from may copy into the shared pool, which must never move.)
    const moving = owned ? data : Buffer.from(new Uint8Array(data).buffer)
    return await new Promise((resolve, reject) => {
      this.open(id, { pending: 0, done: (digest, back) => { resolve({ data: back ?? moving, digest }) }, fail: reject })
      this.worker.postMessage({ op: 'block', id, data: moving, ...(stream === undefined ? {} : { stream }) } satisfies HashRequest, [moving.buffer as ArrayBuffer])
    })
  }

  private wake (state: StreamState): void {
    const wake = state.wake
    state.wake = undefined
    wake?.()
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

function leastLoaded (): HashThread {
  // One thread per core beyond the event loop's, at most four: a running hash is one core's work.
  threads ??= Array.from({ length: Math.max(1, Math.min(4, availableParallelism() - 1)) }, () => new HashThread())
  // A thread that died is replaced; its streams failed with it.
  threads = threads.map(thread => thread.healthy ? thread : new HashThread())
  let best = threads[0]!
  for (const thread of threads) if (thread.load < best.load) best = thread
  return best
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

/**
 * hashBlock for a view whose whole ArrayBuffer belongs to the caller (a buffer from a pool of
 * size classes, larger than the view): the whole memory moves there and back, no copy, and the
 * returned `data` is the same view. (Added for the verified reader's recycled buffers.)
 */
export async function hashBlockInPlace (data: Buffer): Promise<{ data: Buffer, digest: Buffer }> {
  return await leastLoaded().block(data, undefined, true)
}
