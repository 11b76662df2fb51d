import { z } from 'zod'

/**
 * Every message nodes exchange, as schemas: a peer's bytes are parsed and checked before any
 * field is used, so garbage is an error, never a crash or a wrong decision.
 *
 * These are the shapes of the newest wire version (src/p2p/wire-versions.ts says what changed
 * in each version and the rule for adding a field). They decode TOLERANTLY: a field this
 * release does not know is dropped from the parsed message (zod's default "strip", chosen over
 * "passthrough" so that an unknown field can never reach our code or be sent on to another
 * peer), and an unknown `reason` of a refusal reads as 'error'. Every known field is still
 * checked for type and bounds. Messages of every older version decode with these same schemas:
 * each version only ever adds optional fields.
 */
const taskId = z.string().regex(/^[0-9a-f]{64}$/)
const digest = z.string().regex(/^[0-9a-f]{64}$/)
const safeCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/** A refusal's reason: one of `known`, and any other short string (a newer peer's) reads as 'error'. */
function reason<const T extends readonly [string, ...string[]]> (known: T) {
  return z.union([z.enum(known), z.string().max(256).transform(() => 'error' as const)])
}

export const metaRequest = z.object({ task: taskId })
export type MetaRequest = z.infer<typeof metaRequest>

export const taskMetadata = z.object({
  task: taskId,
  key: z.string().max(8192),
  length: safeCount,
  pieceSize: z.number().int().positive().max(1024 * 1024 * 1024),
  etag: z.string().max(1024).optional(),
  headers: z.record(z.string().max(64), z.string().max(4096)),
  /** Base64 bitmap of the pieces the holder has now. */
  bitmap: z.string().max(1024 * 1024),
  digests: z.array(digest.nullable()).max(1_000_000),
  complete: z.boolean(),
  /** The holder's copy is private (TaskMeta.private): a receiving node guards its copy too. */
  private: z.boolean().optional(),
  /**
   * Added in protocol 1.1.0 (0.2.0): bytes per block, and the Merkle root over each held piece's
   * block sha256s (storage/blocks.ts), null where not held. Dropped for 1.0.0 peers by the wire
   * versions; `digests` stays, since 0.1.0 peers verify whole pieces against it.
   */
  blockSize: z.number().int().positive().max(64 * 1024 * 1024).optional(),
  roots: z.array(digest.nullable()).max(1_000_000).optional()
})
export type TaskMetadata = z.infer<typeof taskMetadata>

export const metaResponse = z.union([
  z.object({ ok: z.literal(true), meta: taskMetadata }),
  z.object({ ok: z.literal(false), reason: reason(['unknown-task', 'busy', 'error']) })
])
export type MetaResponse = z.infer<typeof metaResponse>

export const pieceRequest = z.object({
  task: taskId,
  piece: safeCount,
  offset: safeCount,
  length: z.number().int().positive().max(16 * 1024 * 1024)
})
export type PieceRequest = z.infer<typeof pieceRequest>

export const pieceResponse = z.union([
  /**
   * `length` raw bytes follow; `digest` is the sender's sha256 of the whole piece. `blocks`
   * (added in 1.1.0, dropped for 1.0.0 peers) is the sha256 of every block of the piece, whose
   * Merkle root is the piece's root: the receiver checks each block as it lands.
   */
  z.object({ ok: z.literal(true), length: safeCount, digest: digest.optional(), blocks: z.array(digest).max(65_536).optional() }),
  z.object({
    ok: z.literal(false),
    reason: reason(['missing', 'busy', 'bad-request', 'error']),
    /** With `busy` (added in 0.2.0, data connections): when the holder expects to take a request again. */
    retryAfterMs: z.number().int().nonnegative().max(600_000).optional()
  })
])
export type PieceResponse = z.infer<typeof pieceResponse>

/** To an elected seed: fetch this task (or these pieces of it) from the origin. */
export const fetchRequest = z.object({
  task: taskId,
  key: z.string().max(8192),
  url: z.string().url().max(16 * 1024),
  /** The client's headers minus credentials: tokens never go to peers. */
  headers: z.record(z.string().max(256), z.string().max(8192)),
  /** The seeds elected for this task: each derives its own share of the pieces from it. */
  share: z.object({ elected: z.array(z.string().min(1).max(128)).min(1).max(16) }).optional(),
  /** The client had credentials: the seed marks its copy private (the credentials stay home). */
  private: z.boolean().optional()
})
export type FetchRequest = z.infer<typeof fetchRequest>

export const fetchResponse = z.union([
  z.object({ ok: z.literal(true), meta: taskMetadata }),
  z.object({
    ok: z.literal(false),
    reason: reason(['origin-status', 'origin-unreachable', 'busy', 'error']),
    status: z.number().int().min(100).max(599).optional(),
    message: z.string().max(4096).optional()
  })
])
export type FetchResponse = z.infer<typeof fetchResponse>

/** Gossip on the tasks topic and per-task topics. A message of an unknown `type` is dropped. */
export const gossipMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('task'), task: taskId, complete: z.boolean(), seed: z.boolean() }),
  z.object({ type: z.literal('withdraw'), task: taskId }),
  z.object({ type: z.literal('have'), task: taskId, pieces: z.array(safeCount).max(100_000), digests: z.array(digest).max(100_000).optional() })
])
export type GossipMessage = z.infer<typeof gossipMessage>

/** Every schema by message type: what a wire version decodes with. */
export const messageSchemas = { metaRequest, metaResponse, pieceRequest, pieceResponse, fetchRequest, fetchResponse, gossipMessage }
export type MessageKind = keyof typeof messageSchemas
export type Message<K extends MessageKind> = z.output<(typeof messageSchemas)[K]>
