/**
 * When this node puts a task's provider record on the DHT. The record names only this node
 * (not what it holds: gossip and meta answers say that), so one provide serves a whole
 * download, and kad-dht's reprovider keeps it alive. It is made `delayMs` after the task is
 * first announced rather than at once: every node of a swarm starts a task at the same moment,
 * and each provide is a lookup plus a record sent to each of the k closest peers, on top of the
 * start's holder searches (an 8-node bench-swarm round spent most of its start on DHT work).
 * The gossip announcement reaches connected peers at once; the record is for those who look
 * the task up later. A download that completes announces again: no second provide is made
 * while the first one is fresh (`refreshMs`).
 */
export interface TaskProvidesInit {
  /** The wait after a task's first announcement. @default 5000 */
  delayMs?: number
  /** A task provided this long ago is provided again when announced. @default 300_000 */
  refreshMs?: number
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
}

export class TaskProvides {
  private readonly provide: (taskId: string) => void
  private readonly delayMs: number
  private readonly refreshMs: number
  private readonly now: () => number
  /** When each task was last provided. */
  private readonly provided = new Map<string, number>()
  private readonly pending = new Map<string, NodeJS.Timeout>()
  private stopped = false

  /** `provide` makes the DHT provide of one task (and handles its own failures). */
  constructor (provide: (taskId: string) => void, init: TaskProvidesInit = {}) {
    this.provide = provide
    this.delayMs = init.delayMs ?? 5000
    this.refreshMs = init.refreshMs ?? 300_000
    this.now = init.now ?? Date.now
  }

  /** The task was announced: provide it soon, unless that is pending or was done lately. */
  announced (taskId: string): void {
    if (this.stopped || this.pending.has(taskId)) return
    const last = this.provided.get(taskId)
    if (last !== undefined && this.now() - last < this.refreshMs) return
    const timer = setTimeout(() => {
      this.pending.delete(taskId)
      this.provided.set(taskId, this.now())
      this.provide(taskId)
    }, this.delayMs)
    timer.unref()
    this.pending.set(taskId, timer)
  }

  /** The task is gone from this node: a pending provide is not made. */
  withdrawn (taskId: string): void {
    clearTimeout(this.pending.get(taskId))
    this.pending.delete(taskId)
    this.provided.delete(taskId)
  }

  /** No provide is made from now on. */
  stop (): void {
    this.stopped = true
    for (const timer of this.pending.values()) clearTimeout(timer)
    this.pending.clear()
  }
}
