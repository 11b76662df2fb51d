import { z } from 'zod'

/**
 * Every message nodes exchange, as schemas: a peer's bytes are parsed and checked before any
 * field is used, so garbage is an error, never a crash or a wrong decision.
 */
const taskId = z.string().regex(/^[0-9a-f]{64}$/)
const digest = z.string().regex(/^[0-9a-f]{64}$/)
const safeCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

export const metaRequest = z.object({ task: taskId }).strict()
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
   * Block-aware protocol only (added after 0.1.0, whose strict schema rejects unknown fields):
   * MUST be sent only to peers that negotiated the block-aware protocol version. Bytes per
   * block, and the Merkle root over each held piece's block sha256s (storage/blocks.ts), null
   * where not held. `digests` stays: 0.1.0 peers verify whole pieces against it.
   */
  blockSize: z.number().int().positive().max(64 * 1024 * 1024).optional(),
  roots: z.array(digest.nullable()).max(1_000_000).optional()
}).strict()
export type TaskMetadata = z.infer<typeof taskMetadata>

export const metaResponse = z.union([
  z.object({ ok: z.literal(true), meta: taskMetadata }).strict(),
  z.object({ ok: z.literal(false), reason: z.enum(['unknown-task', 'busy', 'error']) }).strict()
])
export type MetaResponse = z.infer<typeof metaResponse>

export const pieceRequest = z.object({
  task: taskId,
  piece: safeCount,
  offset: safeCount,
  length: z.number().int().positive().max(16 * 1024 * 1024)
}).strict()
export type PieceRequest = z.infer<typeof pieceRequest>

export const pieceResponse = z.union([
  /**
   * `length` raw bytes follow; `digest` is the sender's sha256 of the whole piece. `blocks`
   * (block-aware protocol only: MUST be sent only to peers that negotiated it, 0.1.0 rejects it)
   * is the sha256 of every block of the piece, whose Merkle root is the piece's root: the
   * receiver checks each block as it lands.
   */
  z.object({ ok: z.literal(true), length: safeCount, digest: digest.optional(), blocks: z.array(digest).max(65_536).optional() }).strict(),
  z.object({ ok: z.literal(false), reason: z.enum(['missing', 'busy', 'bad-request', 'error']) }).strict()
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
  share: z.object({ elected: z.array(z.string().min(1).max(128)).min(1).max(16) }).strict().optional(),
  /** The client had credentials: the seed marks its copy private (the credentials stay home). */
  private: z.boolean().optional()
}).strict()
export type FetchRequest = z.infer<typeof fetchRequest>

export const fetchResponse = z.union([
  z.object({ ok: z.literal(true), meta: taskMetadata }).strict(),
  z.object({
    ok: z.literal(false),
    reason: z.enum(['origin-status', 'origin-unreachable', 'busy', 'error']),
    status: z.number().int().min(100).max(599).optional(),
    message: z.string().max(4096).optional()
  }).strict()
])
export type FetchResponse = z.infer<typeof fetchResponse>

/** Gossip on the tasks topic and per-task topics. */
export const gossipMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('task'), task: taskId, complete: z.boolean(), seed: z.boolean() }).strict(),
  z.object({ type: z.literal('withdraw'), task: taskId }).strict(),
  z.object({ type: z.literal('have'), task: taskId, pieces: z.array(safeCount).max(100_000), digests: z.array(digest).max(100_000).optional() }).strict()
])
export type GossipMessage = z.infer<typeof gossipMessage>
