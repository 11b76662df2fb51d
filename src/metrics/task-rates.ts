export interface TaskRatesInit {
  /** Samples a rate is averaged over. @default 5 */
  window?: number
}

/** How fast each running task fills, averaged over the last few samples. */
export class TaskRates {
  private readonly window: number
  private readonly samples = new Map<string, Array<{ at: number, bytes: number }>>()

  constructor (init: TaskRatesInit = {}) {
    this.window = init.window ?? 5
  }

  /** Records each task's bytes now; tasks not listed are forgotten. */
  sample (tasks: Iterable<{ id: string, bytes: number }>, now = Date.now()): void {
    const seen = new Set<string>()
    for (const { id, bytes } of tasks) {
      seen.add(id)
      let kept = this.samples.get(id)
      if (kept === undefined) {
        kept = []
        this.samples.set(id, kept)
      }
      kept.push({ at: now, bytes })
      if (kept.length > this.window + 1) kept.shift()
    }
    for (const id of this.samples.keys()) if (!seen.has(id)) this.samples.delete(id)
  }

  /** Bytes per second over the window; 0 until two samples exist. */
  rateOf (id: string): number {
    const kept = this.samples.get(id)
    if (kept === undefined || kept.length < 2) return 0
    const first = kept[0]!
    const last = kept[kept.length - 1]!
    const seconds = (last.at - first.at) / 1000
    return seconds > 0 ? Math.max(0, last.bytes - first.bytes) / seconds : 0
  }
}
