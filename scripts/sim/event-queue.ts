/**
 * The simulator's clock and agenda: a binary min-heap of events by time, ties in the order they
 * were scheduled (so a run is deterministic).
 */
export interface SimEvent {
  at: number
  seq: number
  run: () => void
}

export class EventQueue {
  private readonly heap: SimEvent[] = []
  private seq = 0
  now = 0
  processed = 0

  /** Runs `run` `delayMs` from now (never in the past). */
  after (delayMs: number, run: () => void): void {
    this.push({ at: this.now + Math.max(0, delayMs), seq: this.seq++, run })
  }

  at (time: number, run: () => void): void {
    this.push({ at: Math.max(this.now, time), seq: this.seq++, run })
  }

  get size (): number {
    return this.heap.length
  }

  /** Runs events in time order until none is left, `stop()` says so, or `until` is passed. */
  runUntil (until: number, stop: () => boolean = () => false): void {
    while (this.heap.length > 0 && !stop()) {
      const event = this.pop()
      if (event.at > until) {
        this.push(event)
        this.now = until
        return
      }
      this.now = event.at
      this.processed++
      event.run()
    }
  }

  private push (event: SimEvent): void {
    const heap = this.heap
    heap.push(event)
    let index = heap.length - 1
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (!before(event, heap[parent]!)) break
      heap[index] = heap[parent]!
      index = parent
    }
    heap[index] = event
  }

  private pop (): SimEvent {
    const heap = this.heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      let index = 0
      for (;;) {
        const left = 2 * index + 1
        if (left >= heap.length) break
        const right = left + 1
        const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left
        if (!before(heap[child]!, last)) break
        heap[index] = heap[child]!
        index = child
      }
      heap[index] = last
    }
    return top
  }
}

function before (a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
