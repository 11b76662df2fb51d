/** What a task's metadata file holds. Written atomically; read back on start. */
export interface TaskMeta {
  version: 1
  /** Hex sha256 of the key; also the folder name and X-Dragonfly-Task-ID. */
  id: string
  /** `sha256:<oid>` or `url:<url without signing parameters>`. */
  key: string
  /** The source URL without its signing query, for people reading the cache. */
  url: string
  length: number
  pieceSize: number
  /** The origin's validator, compared on resume so a changed file is never stitched to an old one. */
  etag?: string
  /** Response headers worth replaying on hits (content type, disposition, last-modified). */
  headers: Record<string, string>
  /** Base64 of the piece bitmap. */
  bitmap: string
  /** Hex sha256 of each held piece, null where not held (what 0.1.0 peers verify against). */
  digests: Array<string | null>
  /**
   * Bytes per block (blocks.ts). Absent in a cache written by 0.1.0: its pieces have no block
   * hashes and are re-verified against `digests` before any byte is served.
   */
  blockSize?: number
  /** Hex Merkle root over each held piece's block hashes (stored in the `blocks` file), null where not held. */
  roots?: Array<string | null>
  /** The content's sha256 when the key names it: the whole file is checked against it. */
  sha256?: string
  /** The whole file hashed to `sha256` (set once, cleared when a piece is refetched). */
  verified?: boolean
  /**
   * First fetched with client credentials (a token, a cookie, a Hub resolve that needed one):
   * a later client is served only once the origin accepts that client's own request.
   */
  private?: boolean
  createdAt: number
  lastAccessAt: number
}

export function isTaskMeta (value: unknown): value is TaskMeta {
  if (typeof value !== 'object' || value === null) return false
  const meta = value as Partial<TaskMeta>
  return meta.version === 1 && typeof meta.id === 'string' && /^[0-9a-f]{64}$/.test(meta.id) &&
    typeof meta.key === 'string' && Number.isSafeInteger(meta.length) && (meta.length ?? -1) >= 0 &&
    Number.isSafeInteger(meta.pieceSize) && (meta.pieceSize ?? 0) > 0 &&
    typeof meta.bitmap === 'string' && Array.isArray(meta.digests) && typeof meta.headers === 'object'
}
