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

export type HashReply =
  | { op: 'hashed', id: number, bytes: number }
  | { op: 'digest', id: number, digest: Uint8Array }
  | { op: 'block', id: number, data: Uint8Array, digest: Uint8Array }

const streams = new Map<number, Hash>()
const port = parentPort
if (port !== null) {
  port.on('message', (request: HashRequest) => {
    if (request.op === 'block') {
      // One buffer hashed whole and handed back (moved both ways: no copy).
      const digest = createHash('sha256').update(request.data).digest()
      if (request.stream !== undefined) {
        let running = streams.get(request.stream)
        if (running === undefined) {
          running = createHash('sha256')
          streams.set(request.stream, running)
        }
        running.update(request.data)
      }
      port.postMessage({ op: 'block', id: request.id, data: request.data, digest } satisfies HashReply, [request.data.buffer as ArrayBuffer, digest.buffer])
      return
    }
    if (request.op === 'drop') {
      streams.delete(request.id)
      return
    }
    let hash = streams.get(request.id)
    if (hash === undefined) {
      hash = createHash('sha256')
      streams.set(request.id, hash)
    }
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
