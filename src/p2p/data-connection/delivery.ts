import { AbortedError } from '../../errors.js'
import { ProtocolError } from '../wire.js'

/**
 * What the downloader confirmed it received on one data connection (its `ack` frames: the
 * block bytes it read so far), against the block bytes this side wrote.
 *
 * Why: the uplink is given to one block at a time (upload-queue.ts), and a turn used to end
 * once the block had left the process. But the kernel's send buffer takes megabytes per socket,
 * so blocks written "one at a time" to several peers sat in their sockets side by side and
 * shared the link after all: in an 8-host round a 1 MiB piece, 0.2 s on a 5 MB/s uplink, took
 * 1.1 s (median) from request to arrival, and each relay waited as long. With acks a turn ends
 * when all but the block's last record has arrived: the next block enters the kernel while that
 * record is on the wire, and no more than that.
 *
 * A downloader whose ack is late by `ackWaitMs` (a slow or malicious peer) loses the favour:
 * the connection's turns end at the drain again, so one peer cannot hold the uplink.
 */
export class Delivery {
  private sent = 0
  private acked = 0
  private waiter?: { until: number, wake: () => void }
  private trusted = true

  /** Whether turns on this connection may wait for acks. */
  get usable (): boolean {
    return this.trusted
  }

  /** Block bytes written to the socket. */
  wrote (bytes: number): void {
    this.sent += bytes
  }

  /** The downloader's ack: block bytes received in all. */
  ack (total: number): void {
    if (total < this.acked || total > this.sent) throw new ProtocolError(`ack of ${total} bytes, with ${this.acked} acked and ${this.sent} sent`)
    this.acked = total
    if (this.waiter !== undefined && this.acked >= this.waiter.until) this.waiter.wake()
  }

  /**
   * Resolves once all but `tailBytes` of what was written has been acked, or after `timeoutMs`
   * (then acks are no longer waited for on this connection). Rejects when `signal` aborts.
   */
  async nearlyDelivered (tailBytes: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const until = this.sent - tailBytes
    if (this.acked >= until || !this.trusted) return
    if (signal.aborted) throw new AbortedError()
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.waiter = undefined
        if (error === undefined) resolve()
        else reject(error)
      }
      const timer = setTimeout(() => {
        this.trusted = false
        done()
      }, timeoutMs)
      const onAbort = (): void => { done(new AbortedError()) }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiter = { until, wake: () => { done() } }
    })
  }
}
