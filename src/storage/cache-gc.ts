import type { Metrics } from '../metrics/metrics.js'
import type { Logger } from '../logging/logger.js'
import { chooseEvictions, chooseExpired, type CacheEntry } from './eviction.js'

/** What the collector needs from the task manager: a narrow view, easy to fake. */
export interface CachedTasks {
  entries: () => CacheEntry[]
  /** Forgets a task at once (new requests start afresh) and removes its folder. */
  evict: (id: string, reason: 'quota' | 'ttl') => void
  /** Makes recent access times durable (they decide the LRU order after a restart). */
  persistAccessTimes: () => Promise<void>
}

export interface CacheGcComponents {
  tasks: CachedTasks
  logger: Logger
  metrics?: Pick<Metrics, 'recordEviction'>
}

export interface CacheGcInit {
  /** Bytes; 0 = no quota. */
  quota: number
  highWatermark: number
  lowWatermark: number
  /** Milliseconds; 0 = no expiry. */
  ttl: number
  /** How often the collector runs. @default min(60 s, ttl / 4), at least 250 ms */
  intervalMs?: number
}

/**
 * Keeps the cache under its quota and its TTL. It runs every interval, and synchronously when
 * a new task needs room: least recently used tasks go first, a task in use never goes. The
 * room for a new task is taken whole when it starts, so a download never fails halfway for
 * want of quota.
 */
export class CacheGc {
  private readonly components: CacheGcComponents
  private readonly init: CacheGcInit
  private readonly log: Logger
  private timer?: NodeJS.Timeout
  private running?: Promise<void>
  /** Tasks evicted since start, by reason (for status). */
  readonly evicted = { quota: 0, ttl: 0 }

  constructor (components: CacheGcComponents, init: CacheGcInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('gc')
  }

  get intervalMs (): number {
    if (this.init.intervalMs !== undefined) return this.init.intervalMs
    return this.init.ttl > 0 ? Math.max(250, Math.min(60_000, this.init.ttl / 4)) : 60_000
  }

  start (): void {
    const tick = (): void => {
      this.running = this.collect().catch((error: unknown) => { this.log.error('cache collection failed', { error }) })
      void this.running.finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.intervalMs).unref()
      })
    }
    this.timer = setTimeout(tick, this.intervalMs).unref()
  }

  async stop (): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    await this.running
    await this.components.tasks.persistAccessTimes()
  }

  /** Bytes the cache holds now, as the quota counts them. */
  used (entries = this.components.tasks.entries()): number {
    return entries.reduce((sum, entry) => sum + entry.bytes, 0)
  }

  /**
   * Room for `bytes` more, evicting least recently used tasks down to the low watermark if
   * the high one would be passed. False when the quota cannot hold them even so (the content
   * is larger than the quota, or what would have to go is in use).
   */
  makeRoom (bytes: number, alsoReserved = 0): boolean {
    const { quota } = this.init
    if (quota <= 0) return true
    if (bytes > quota) return false
    const entries = this.components.tasks.entries()
    // Nothing is evicted for a content that would not fit even then.
    if (this.used(entries.filter(entry => entry.inUse)) + alsoReserved + bytes > quota) return false
    const used = this.used(entries) + alsoReserved
    if (used + bytes > quota * this.init.highWatermark) {
      for (const entry of chooseEvictions(entries, used, Math.floor(quota * this.init.lowWatermark), bytes)) this.evict(entry, 'quota')
    }
    return this.used() + alsoReserved + bytes <= quota
  }

  /** One pass: expired tasks, then least recently used ones while above the high watermark. */
  async collect (now = Date.now()): Promise<void> {
    const entries = this.components.tasks.entries()
    for (const entry of chooseExpired(entries, now, this.init.ttl)) this.evict(entry, 'ttl')
    const { quota } = this.init
    if (quota > 0) {
      const left = this.components.tasks.entries()
      const used = this.used(left)
      if (used > quota * this.init.highWatermark) {
        for (const entry of chooseEvictions(left, used, Math.floor(quota * this.init.lowWatermark))) this.evict(entry, 'quota')
      }
    }
    await this.components.tasks.persistAccessTimes()
  }

  private evict (entry: CacheEntry, reason: 'quota' | 'ttl'): void {
    this.evicted[reason]++
    this.components.metrics?.recordEviction()
    this.log.info('evicting task', { task: entry.id, bytes: entry.bytes, reason, idleMs: Date.now() - entry.lastAccessAt })
    this.components.tasks.evict(entry.id, reason)
  }
}
