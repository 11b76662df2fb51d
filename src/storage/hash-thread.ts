import { createHash, type Hash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { OrderedHash, type OrderedOutcome } from './ordered-hash.js'

/**
 * The hashing thread behind hash-pool.ts: running sha256 streams by id, and whole-file hashes
 * fed by offset (ordered-hash.ts). Each `update` is acknowledged once hashed, which is how the
 * pool bounds the bytes waiting here.
 */

/** Offers a block's bytes to whole-file hash `id` at `offset` too; with `expect`, only if the block hashes to it. */
export interface WholeFeedRequest { id: number, offset: number, expect?: Uint8Array }

/** Where whole-file hash `id` stands after an op that offered it bytes at `offset`. */
export interface WholeNews { id: number, offset: number, outcome: OrderedOutcome, position: number, evicted: number[] }

export type HashRequest =
  | { op: 'update', id: number, data: Uint8Array }
  | { op: 'digest', id: number }
  | { op: 'drop', id: number }
  /** A whole block: its own sha256, and (with `stream`) fed to that running hash as well. */
  | { op: 'block', id: number, data: Uint8Array, stream?: number, whole?: WholeFeedRequest }
  /**
   * A whole block given as the parts it arrived in (moved here or shared, never sent back): its
   * own sha256, and (with `stream`) fed to that running hash as well.
   */
  | { op: 'parts', id: number, parts: Uint8Array[], stream?: number, whole?: WholeFeedRequest }
  /** The first `length` bytes of `data` fed to running hash `stream`, then `data` sent back (moved both ways: no copy). */
  | { op: 'feed', id: number, data: Uint8Array, length: number, stream: number }
  /** A new whole-file hash `id` that keeps at most `windowBytes` ahead of its position. */
  | { op: 'whole-open', id: number, windowBytes: number }
  /** Bytes read back from disk at `offset` offered to whole-file hash `whole`, then `data` sent back. */
  | { op: 'whole-read', id: number, whole: number, offset: number, data: Uint8Array, length: number }

export type HashReply =
  | { op: 'hashed', id: number, bytes: number }
  | { op: 'digest', id: number, digest: Uint8Array, whole?: WholeNews }
  | { op: 'block', id: number, data: Uint8Array, digest: Uint8Array, whole?: WholeNews }
  | { op: 'fed', id: number, data: Uint8Array, whole?: WholeNews }

const streams = new Map<number, Hash>()
const wholes = new Map<number, OrderedHash>()

function running (id: number): Hash {
  let hash = streams.get(id)
  if (hash === undefined) {
    hash = createHash('sha256')
    streams.set(id, hash)
  }
  return hash
}

/** Offers bytes to a whole-file hash (unless the block's digest is not the one expected). */
function offer (feed: WholeFeedRequest, parts: readonly Uint8Array[], keep: boolean, digest?: Uint8Array): WholeNews | undefined {
  const whole = wholes.get(feed.id)
  if (whole === undefined) return undefined
  const evicted: number[] = []
  const refused = feed.expect !== undefined && (digest === undefined || !Buffer.from(feed.expect).equals(digest))
  const outcome = refused ? 'refused' : whole.offer(feed.offset, parts, keep, evicted)
  return { id: feed.id, offset: feed.offset, outcome, position: whole.position, evicted }
}

const port = parentPort
if (port !== null) {
  port.on('message', (request: HashRequest) => {
    if (request.op === 'block') {
      // One buffer hashed whole and handed back (moved both ways: no copy); a whole-file hash
      // that parks it keeps a copy made here, so the buffer still goes back to be reused.
      const digest = createHash('sha256').update(request.data).digest()
      if (request.stream !== undefined) running(request.stream).update(request.data)
      const whole = request.whole === undefined ? undefined : offer(request.whole, [request.data], false, digest)
      port.postMessage({ op: 'block', id: request.id, data: request.data, digest, ...(whole === undefined ? {} : { whole }) } satisfies HashReply, [request.data.buffer as ArrayBuffer, digest.buffer])
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
      // A single part moved here is kept as it is; shared memory (reused once this replies) is copied.
      const keep = request.parts.length === 1 && !(request.parts[0]!.buffer instanceof SharedArrayBuffer)
      const whole = request.whole === undefined ? undefined : offer(request.whole, request.parts, keep, digest)
      port.postMessage({ op: 'digest', id: request.id, digest, ...(whole === undefined ? {} : { whole }) } satisfies HashReply, [digest.buffer])
      return
    }
    if (request.op === 'feed') {
      running(request.stream).update(request.data.subarray(0, request.length))
      port.postMessage({ op: 'fed', id: request.id, data: request.data } satisfies HashReply, [request.data.buffer as ArrayBuffer])
      return
    }
    if (request.op === 'whole-open') {
      wholes.set(request.id, new OrderedHash(request.windowBytes))
      return
    }
    if (request.op === 'whole-read') {
      const whole = offer({ id: request.whole, offset: request.offset }, [request.data.subarray(0, request.length)], false)
      port.postMessage({ op: 'fed', id: request.id, data: request.data, ...(whole === undefined ? {} : { whole }) } satisfies HashReply, [request.data.buffer as ArrayBuffer])
      return
    }
    if (request.op === 'drop') {
      streams.delete(request.id)
      wholes.get(request.id)?.clear()
      wholes.delete(request.id)
      return
    }
    const ordered = wholes.get(request.id)
    if (ordered !== undefined) {
      // Only a digest is asked of a whole-file hash.
      wholes.delete(request.id)
      const position = ordered.position
      const digest = ordered.digest()
      port.postMessage({ op: 'digest', id: request.id, digest, whole: { id: request.id, offset: position, outcome: 'skipped', position, evicted: [] } } satisfies HashReply, [digest.buffer as ArrayBuffer])
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
