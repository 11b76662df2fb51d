import { AbortedError } from '../../errors.js'
import { ProtocolError } from '../wire.js'

/**
 * What the downloader confirmed it received on one data connection (its `ack` frames: the
 * block bytes it read so far), against the block bytes this side wrote.
 *
 * Why: the uplink is given to one block at a time (upload-queue.ts), and a turn ended once the
 * block had left the process. But the kernel's send buffer takes megabytes per socket, so blocks
 * written "one at a time" to several peers sat in their sockets side by side and shared the link
 * after all: in an 8-host round a 1 MiB piece, 0.2 s on a 5 MB/s uplink, took 1.1 s (median) from
 * request to arrival, and each relay waited as long. With acks, a turn on another connection
 * starts once all but the block's last record has arrived: that block enters the kernel while
 * the record is on the wire, and no more than that. Turns on the same connection need not wait
 * (TCP sends them in order anyway), so a lone downloader is served as fast as without acks.
 *
 * A downloader whose ack is late by the wait given (a slow or malicious peer) loses the favour:
 * nobody waits for this connection's acks any more, so one peer cannot hold the uplink.
 */
export class Delivery {
  private sent = 0
  private acked = 0
  private waiters: Array<{ until: number, wake: () => void }> = []
  private trusted = true

  /** Whether turns after this connection's may wait for its acks. */
  get usable (): boolean {
    return this.trusted
  }

  /** Block bytes written to the socket. */
  wrote (bytes: number): void {
    this.sent += bytes
  }

  /** The downloader's ack: block bytes received in all. Returns the bytes it adds. */
  ack (total: number): number {
    if (total < this.acked || total > this.sent) throw new ProtocolError(`ack of ${total} bytes, with ${this.acked} acked and ${this.sent} sent`)
    const added = total - this.acked
    this.acked = total
    for (const waiter of this.waiters.filter(waiter => waiter.until <= total)) waiter.wake()
    return added
  }

  /**
   * Resolves once all but `tailBytes` of what was written so far has been acked, or after
   * `timeoutMs` (then acks are waited for no more on this connection, and every wait ends).
   * Rejects when `signal` aborts.
   */
  async nearlyDelivered (tailBytes: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const until = this.sent - tailBytes
    if (this.acked >= until || !this.trusted) return
    if (signal.aborted) throw new AbortedError()
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.waiters = this.waiters.filter(other => other !== waiter)
        if (error === undefined) resolve()
        else reject(error)
      }
      const waiter = { until, wake: () => { done() } }
      const timer = setTimeout(() => {
        this.trusted = false
        for (const other of [...this.waiters]) other.wake()
      }, timeoutMs)
      const onAbort = (): void => { done(new AbortedError()) }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }
}
