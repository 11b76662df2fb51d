import { AbortedError } from '../errors.js'

/**
 * Bytes that may be in flight at once through some stage, shared by everyone who uses it: `take`
 * waits (first come, first served) until the bytes fit, and the release it returns gives them
 * back. A taker may always have an empty gate to itself, whatever it asks for, so nothing larger
 * than the gate waits forever. Used for blocks being read and hashed (verified-reader.ts): under
 * many clients they queue here, before their memory is allocated, rather than each allocating a
 * block and then waiting its turn on the hashing thread.
 */
export class ByteGate {
  readonly totalBytes: number
  private used = 0
  private readonly waiting: Array<{ bytes: number, grant: () => void }> = []

  constructor (totalBytes: number) {
    this.totalBytes = totalBytes
  }

  /** Bytes taken now. */
  get inUse (): number {
    return this.used
  }

  /** Takers waiting now. */
  get queued (): number {
    return this.waiting.length
  }

  /** Waits until `bytes` fit; resolves with their release (calling it twice is harmless). Rejects with AbortedError when `signal` aborts first. */
  async take (bytes: number, signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) throw new AbortedError()
    if (this.waiting.length > 0 || !this.fits(bytes)) {
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          bytes,
          grant: () => {
            signal.removeEventListener('abort', onAbort)
            resolve()
          }
        }
        const onAbort = (): void => {
          const at = this.waiting.indexOf(waiter)
          if (at >= 0) this.waiting.splice(at, 1)
          this.admit()
          reject(new AbortedError())
        }
        signal.addEventListener('abort', onAbort, { once: true })
        this.waiting.push(waiter)
      })
    } else {
      this.used += bytes
    }
    let released = false
    return () => {
      if (released) return
      released = true
      this.used -= bytes
      this.admit()
    }
  }

  private fits (bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.totalBytes
  }

  private admit (): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const waiter = this.waiting.shift()!
      this.used += waiter.bytes
      waiter.grant()
    }
  }
}
