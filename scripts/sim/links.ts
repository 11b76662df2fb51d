/**
 * Links as calendars. Each host's uplink and downlink is a pipe of fixed capacity that serves one
 * transfer's bytes after another: a unit of B bytes from a to b starts once a's uplink is free,
 * holds it for B / min(up_a, down_b), and lands once b's downlink has also carried it (B / down_b
 * after b's earlier arrivals), plus the latency. O(1) per transfer, which is what lets 10,000
 * hosts run in minutes; the cost is that an uplink is not shared between concurrent transfers
 * (they queue, FIFO) — the same total rate, coarser interleaving.
 *
 * The origin has a total upload and a per-connection cap; a fetcher with c connections gets
 * c × min(perConnection, total / connections open).
 */
export class LinkCalendar {
  upFree = 0
  downFree = 0
  constructor (readonly up: number, readonly down: number) {}
}

/** When a unit sent from `from` to `to`, requested at `now`, arrives (and books both links). */
export function book (now: number, from: LinkCalendar, to: LinkCalendar, bytes: number, latencyMs: number): number {
  const start = Math.max(now + latencyMs / 2, from.upFree)
  const sent = start + bytes / Math.min(from.up, to.down)
  from.upFree = sent
  to.downFree = Math.max(to.downFree, start) + bytes / to.down
  return Math.max(sent, to.downFree) + latencyMs / 2
}

export class Origin {
  bytesServed = 0
  openConnections = 0
  constructor (readonly total: number, readonly perConnection: number) {}

  /** What one more fetcher with `connections` connections would get, bytes per ms. */
  rateFor (connections: number): number {
    const share = this.total / Math.max(1, this.openConnections + connections)
    return connections * Math.min(this.perConnection, share)
  }
}
