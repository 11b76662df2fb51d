import { createHash, type Hash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'

/**
 * The hashing thread behind hash-pool.ts: running sha256 streams by id. Each `update` is
 * acknowledged once hashed, which is how the pool bounds the bytes waiting here.
 */
export type HashRequest =
  | { op: 'update', id: number, data: Uint8Array }
  | { op: 'digest', id: number }
  | { op: 'drop', id: number }
  /** A whole block: its own sha256, and (with `stream`) fed to that running hash as well. */
  | { op: 'block', id: number, data: Uint8Array, stream?: number }
  /**
   * A whole block given as the parts it arrived in (moved here or shared, never sent back): its
   * own sha256, and (with `stream`) fed to that running hash as well.
   */
  | { op: 'parts', id: number, parts: Uint8Array[], stream?: number }
  /** The first `length` bytes of `data` fed to running hash `stream`, then `data` sent back (moved both ways: no copy). */
  | { op: 'feed', id: number, data: Uint8Array, length: number, stream: number }

export type HashReply =
  | { op: 'hashed', id: number, bytes: number }
  | { op: 'digest', id: number, digest: Uint8Array }
  | { op: 'block', id: number, data: Uint8Array, digest: Uint8Array }
  | { op: 'fed', id: number, data: Uint8Array }

const streams = new Map<number, Hash>()

function running (id: number): Hash {
  let hash = streams.get(id)
  if (hash === undefined) {
    hash = createHash('sha256')
    streams.set(id, hash)
  }
  return hash
}

const port = parentPort
if (port !== null) {
  port.on('message', (request: HashRequest) => {
    if (request.op === 'block') {
      // One buffer hashed whole and handed back (moved both ways: no copy).
      const digest = createHash('sha256').update(request.data).digest()
      if (request.stream !== undefined) running(request.stream).update(request.data)
      port.postMessage({ op: 'block', id: request.id, data: request.data, digest } satisfies HashReply, [request.data.buffer as ArrayBuffer, digest.buffer])
      return
    }
    if (request.op === 'parts') {
      const hash = createHash('sha256')
      const stream = request.stream === undefined ? undefined : running(request.stream)
      for (const part of request.parts) {
        hash.update(part)
        stream?.update(part)
      }
      const digest = hash.digest()
      port.postMessage({ op: 'digest', id: request.id, digest } satisfies HashReply, [digest.buffer])
      return
    }
    if (request.op === 'feed') {
      running(request.stream).update(request.data.subarray(0, request.length))
      port.postMessage({ op: 'fed', id: request.id, data: request.data } satisfies HashReply, [request.data.buffer as ArrayBuffer])
      return
    }
    if (request.op === 'drop') {
      streams.delete(request.id)
      return
    }
    const hash = running(request.id)
    if (request.op === 'update') {
      hash.update(request.data)
      port.postMessage({ op: 'hashed', id: request.id, bytes: request.data.byteLength } satisfies HashReply)
      return
    }
    streams.delete(request.id)
    const digest = hash.digest()
    port.postMessage({ op: 'digest', id: request.id, digest } satisfies HashReply, [digest.buffer])
  })
}
