import type { ByteTotals } from './metrics.js'

export interface ThroughputHistoryInit {
  /** Samples kept. @default 600 (ten minutes of one-second samples) */
  samples?: number
  /** The time between samples, as the caller takes them. @default 1000 */
  intervalMs?: number
}

/** Bytes moved per interval, oldest first, ending at `end` (epoch ms). */
export interface ThroughputSnapshot {
  intervalMs: number
  end: number
  origin: number[]
  peer: number[]
  local: number[]
  clients: number[]
  upload: number[]
}

const series = ['origin', 'peer', 'local', 'clients', 'upload'] as const

/**
 * The last minutes of traffic for the status page: a ring of per-interval byte counts, taken
 * as differences of the running totals (so nothing on the data path has to know about it).
 */
export class ThroughputHistory {
  private readonly capacity: number
  private readonly intervalMs: number
  private readonly rings: Record<keyof ByteTotals, Float64Array>
  private previous?: ByteTotals
  private next = 0
  private filled = 0
  private end = 0

  constructor (init: ThroughputHistoryInit = {}) {
    this.capacity = init.samples ?? 600
    this.intervalMs = init.intervalMs ?? 1000
    this.rings = {
      origin: new Float64Array(this.capacity),
      peer: new Float64Array(this.capacity),
      local: new Float64Array(this.capacity),
      clients: new Float64Array(this.capacity),
      upload: new Float64Array(this.capacity)
    }
  }

  /** Records what moved since the previous call; the first call only sets the baseline. */
  sample (totals: ByteTotals, now = Date.now()): void {
    const previous = this.previous
    this.previous = { ...totals }
    this.end = now
    if (previous === undefined) return
    for (const name of series) this.rings[name][this.next] = Math.max(0, totals[name] - previous[name])
    this.next = (this.next + 1) % this.capacity
    this.filled = Math.min(this.filled + 1, this.capacity)
  }

  snapshot (): ThroughputSnapshot {
    const read = (ring: Float64Array): number[] => {
      const result: number[] = []
      for (let age = this.filled; age >= 1; age--) result.push(ring[(this.next - age + this.capacity) % this.capacity]!)
      return result
    }
    return {
      intervalMs: this.intervalMs,
      end: this.end,
      origin: read(this.rings.origin),
      peer: read(this.rings.peer),
      local: read(this.rings.local),
      clients: read(this.rings.clients),
      upload: read(this.rings.upload)
    }
  }
}
