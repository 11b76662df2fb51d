/**
 * How large a read buffer each proxy response gets: responses in flight share a memory budget,
 * so one client reading a large hit gets big reads (fewer round trips, full speed) and 200
 * clients get small ones (bounded memory). A response keeps its size for its whole life: the
 * budget can be overrun while the crowd grows, by at most the responses that began when it was
 * smaller.
 *
 * (Tried and dropped: a free list of these buffers for reuse across responses. Under bench-load
 * it raised peak RSS, 270 MiB against 227-236: a pooled buffer is rounded up to a power of two
 * and lives until the response's last write reaches the kernel.)
 */

export interface ReadBudgetInit {
  /** Bytes shared by every response's buffer. @default 16 MiB */
  totalBytes?: number
  /** No response gets less, however many there are. @default 32 KiB */
  minBytes?: number
  /** No response gets more, however few there are. @default 1 MiB */
  maxBytes?: number
}

export class ReadBudget {
  private readonly totalBytes: number
  private readonly minBytes: number
  private readonly maxBytes: number
  private active = 0

  constructor (init: ReadBudgetInit = {}) {
    this.totalBytes = init.totalBytes ?? 16 * 1024 * 1024
    this.minBytes = init.minBytes ?? 32 * 1024
    this.maxBytes = init.maxBytes ?? 1024 * 1024
  }

  /** Responses holding a share now. */
  get holders (): number {
    return this.active
  }

  /** A buffer size for one more response (a power of two); `release` when it ends. */
  take (): { bytes: number, release: () => void } {
    this.active++
    const share = this.totalBytes / this.active
    const bytes = Math.min(this.maxBytes, Math.max(this.minBytes, 2 ** Math.floor(Math.log2(share))))
    let released = false
    return {
      bytes,
      release: () => {
        if (released) return
        released = true
        this.active--
      }
    }
  }
}

/** The budget of this process's proxy responses. */
export const proxyReadBudget = new ReadBudget()
