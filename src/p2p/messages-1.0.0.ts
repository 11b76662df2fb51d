import { z } from 'zod'

/**
 * The messages of wire version 1.0.0 (release 0.1.0), field for field: what a 0.1.0 node
 * accepts. Release 0.1.0 decodes with `.strict()` objects, so a message with one field more
 * than these is refused whole. Two uses:
 * - `project10`: whatever this release sends on a 1.0.0 protocol id (or on a gossip topic that
 *   0.1.0 nodes read) goes through the "strip" build of these schemas first, which drops every
 *   field 1.0.0 does not have and fails on a value 1.0.0 would refuse.
 * - `strict10`: the decoding of a node told to speak only 1.0.0 (a test-only switch that stands
 *   in for an old node in the mixed swarm test).
 * Never change a shape here: 1.0.0 is what the deployed nodes speak.
 */
function schemas10 (object: typeof z.object) {
  const taskId = z.string().regex(/^[0-9a-f]{64}$/)
  const digest = z.string().regex(/^[0-9a-f]{64}$/)
  const safeCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
  const taskMetadata = object({
    task: taskId,
    key: z.string().max(8192),
    length: safeCount,
    pieceSize: z.number().int().positive().max(1024 * 1024 * 1024),
    etag: z.string().max(1024).optional(),
    headers: z.record(z.string().max(64), z.string().max(4096)),
    bitmap: z.string().max(1024 * 1024),
    digests: z.array(digest.nullable()).max(1_000_000),
    complete: z.boolean(),
    private: z.boolean().optional()
  })
  return {
    metaRequest: object({ task: taskId }),
    metaResponse: z.union([
      object({ ok: z.literal(true), meta: taskMetadata }),
      object({ ok: z.literal(false), reason: z.enum(['unknown-task', 'busy', 'error']) })
    ]),
    pieceRequest: object({ task: taskId, piece: safeCount, offset: safeCount, length: z.number().int().positive().max(16 * 1024 * 1024) }),
    pieceResponse: z.union([
      object({ ok: z.literal(true), length: safeCount, digest: digest.optional() }),
      object({ ok: z.literal(false), reason: z.enum(['missing', 'busy', 'bad-request', 'error']) })
    ]),
    fetchRequest: object({
      task: taskId,
      key: z.string().max(8192),
      url: z.string().url().max(16 * 1024),
      headers: z.record(z.string().max(256), z.string().max(8192)),
      share: object({ elected: z.array(z.string().min(1).max(128)).min(1).max(16) }).optional(),
      private: z.boolean().optional()
    }),
    fetchResponse: z.union([
      object({ ok: z.literal(true), meta: taskMetadata }),
      object({
        ok: z.literal(false),
        reason: z.enum(['origin-status', 'origin-unreachable', 'busy', 'error']),
        status: z.number().int().min(100).max(599).optional(),
        message: z.string().max(4096).optional()
      })
    ]),
    gossipMessage: z.discriminatedUnion('type', [
      object({ type: z.literal('task'), task: taskId, complete: z.boolean(), seed: z.boolean() }),
      object({ type: z.literal('withdraw'), task: taskId }),
      object({ type: z.literal('have'), task: taskId, pieces: z.array(safeCount).max(100_000), digests: z.array(digest).max(100_000).optional() })
    ])
  }
}

/** Drops unknown fields: the projection of a newer message onto 1.0.0. */
export const project10 = schemas10(z.object)
/**
 * Refuses unknown fields, as 0.1.0 does. (A strict object has the same output type as a
 * stripping one; only the cast tells TypeScript so.)
 */
export const strict10 = schemas10(z.strictObject as unknown as typeof z.object)
