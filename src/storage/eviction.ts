/** What the cache knows about one task when choosing what to evict. */
export interface CacheEntry {
  id: string
  /** Bytes the task may take on disk (its content length). */
  bytes: number
  /** Milliseconds since the epoch of the last request or peer read. */
  lastAccessAt: number
  /** Being downloaded or served: never evicted. */
  inUse: boolean
}

/**
 * Tasks to evict, least recently used first, until `used - evicted + incoming` is at most
 * `target`. In-use tasks are skipped. Pure, so the policy is tested without a disk.
 */
export function chooseEvictions (entries: readonly CacheEntry[], used: number, target: number, incoming = 0): CacheEntry[] {
  const chosen: CacheEntry[] = []
  let remaining = used + incoming
  if (remaining <= target) return chosen
  const candidates = entries.filter(entry => !entry.inUse).sort((a, b) => a.lastAccessAt - b.lastAccessAt)
  for (const entry of candidates) {
    if (remaining <= target) break
    chosen.push(entry)
    remaining -= entry.bytes
  }
  return chosen
}

/** Tasks not used for `ttlMs`, and not in use now. */
export function chooseExpired (entries: readonly CacheEntry[], now: number, ttlMs: number): CacheEntry[] {
  if (ttlMs <= 0) return []
  return entries.filter(entry => !entry.inUse && now - entry.lastAccessAt >= ttlMs)
}
