import { AbortedError } from '../errors.js'
import type { Admission } from '../scheduling/upload-admission.js'

export interface UploadQueueInit {
  /** Pieces booked at once (one being sent, the others read and waiting). @default 2 */
  maxBooked?: number
  /** Turns of different connections whose bytes may be on their way at once. @default 2 */
  maxOnTheWay?: number
  /** Fresh pieces remembered at most (the oldest are forgotten first). @default 4096 */
  maxFresh?: number
  /** Clock in milliseconds. @default performance.now */
  now?: () => number
}

/**
 * Lets the next upload take the link: call once its bytes have left this process. `delivered`
 * (a connection whose receiver acks) settles once they have nearly arrived: a turn of another
 * connection waits for it, so that the two blocks do not share the link in the kernel's buffers.
 */
export type UploadRelease = (delivered?: Promise<void>) => void

interface Waiter {
  /** The connection the turn sends on. */
  owner: unknown
  /** A fresh piece's first block: it goes before the others. */
  fresh: boolean
  /** The link is free: the waiter takes it in the same turn of the event loop. */
  grant: () => void
}

/** The retry hint's bounds, and its value before the link's rate is known. */
const minRetryMs = 20
const maxRetryMs = 2000
const unmeasuredRetryMs = 100

/**
 * This node's uplink, shared by every peer it serves: blocks go out in turn, first asked first
 * served, with at most two connections' bytes on the link at once, and a new piece is refused
 * ("busy, retry in X ms") while `maxBooked` are booked.
 *
 * Why in turn: sent side by side, k blocks share the link and each arrives after k times
 * as long. A relayed piece is of use to the swarm only once its receiver holds it, so sharing
 * delays every relay k-fold and leaves the receivers' uplinks idle meanwhile (issue 12: hosts
 * used a quarter of their upload). In turn, the first arrives after 1/k of the time and its
 * receiver relays it at once.
 *
 * Why two on their way, not one: the next connection's turn starts once all but the last record
 * of the turn before has arrived (delivery.ts), and one TCP connection that was idle since its
 * last turn does not fill the link before its block ends. Measured on bench-swarm's links (N = 8,
 * 5 MB/s up, each link's bytes read every 5 ms): with one turn on its way the uplinks carried
 * 4.0 MB/s in the middle of the round, their best second 4.85, while every node always had a
 * turn on its way; with two, 4.4 (issue 12). Two share the link for a part of each turn only, so
 * a relay is delayed far less than k-fold. A fresh piece (below) still goes alone: it exists only
 * here, and with a second turn beside it, a slow elected seed's fresh pieces left it at half its
 * rate (the slow-host round: 2.20 / 2.20 × its bound against 1.90 / 2.11).
 *
 * Why refuse: without a bound, a seed that every host asks at the start queues tens of seconds
 * of requests, and each queued piece is held hostage (its requester asks nobody else for it).
 * The bound is a count, not the time booked ahead (src/scheduling/upload-admission.ts): that time
 * would need the link's rate, and from inside the process the rate cannot be seen, since the
 * kernel's send buffer takes megabytes at once. Two booked keeps the link busy (one read while
 * one is sent) and the wait of an admitted request under two pieces' time.
 *
 * One copy of a piece at a time: a request for a piece already booked for another peer is
 * refused as busy too. That peer will hold it within a turn and announce it, and the requester
 * can then take it from there; sent twice from here, the second copy costs this uplink a turn
 * the swarm needs for pieces only this node has (an elected seed's fresh ones, which every
 * client waiting for the same next piece asked for at once).
 *
 * Fresh pieces first: a piece this node fetched from the origin and never sent (`markFresh`)
 * exists nowhere else, and the swarm gets it only through this uplink; every other piece has, or
 * will soon have, other holders. A fresh piece's first block is therefore admitted even when the
 * uplink is booked (up to `maxBooked` more), and takes the link before the turns of other pieces.
 * Without it, an elected seed's fresh piece waited behind two booked copies of pieces the swarm
 * already had: on a 1 MB/s seed, 2-3 s before its first copy left (issue 12's slow-host round).
 *
 * The retry hint is the booked bytes at the rate seen: bytes of each turn over the time it held
 * the link, decayed so that it follows the link.
 */
export class UploadQueue {
  private readonly now: () => number
  private readonly maxBooked: number
  private readonly waiters: Waiter[] = []
  private holding = false
  /** The link waits for a turn's delivery before the next owner's turn. */
  private deferred = false
  private readonly maxOnTheWay: number
  /** Released turns whose bytes may still be on their way (until their delivery settles). */
  private onTheWay: Array<{ owner: unknown, fresh: boolean, delivered: Promise<void> }> = []
  /** Requests admitted and not yet sent (or given up), and their bytes. */
  private bookedCount = 0
  private bookedBytes = 0
  /** Pieces (the caller's keys) whose first block is booked now. */
  private readonly pieces = new Set<string>()
  /** Pieces fetched here from the origin and not sent yet, oldest first. */
  private readonly fresh = new Set<string>()
  private readonly maxFresh: number
  /** Decayed sums of bytes sent and ms the link was held for them. */
  private sentBytes = 0
  private heldMs = 0

  constructor (init: UploadQueueInit = {}) {
    this.now = init.now ?? (() => performance.now())
    this.maxBooked = init.maxBooked ?? 2
    this.maxOnTheWay = init.maxOnTheWay ?? 2
    this.maxFresh = init.maxFresh ?? 4096
    if (!(this.maxBooked >= 1)) throw new RangeError(`maxBooked must be >= 1, got ${this.maxBooked}`)
    if (!(this.maxOnTheWay >= 1)) throw new RangeError(`maxOnTheWay must be >= 1, got ${this.maxOnTheWay}`)
  }

  /** Bytes per ms the link moved while held; undefined before the first turn ended. */
  bytesPerMs (): number | undefined {
    return this.heldMs > 0 ? this.sentBytes / this.heldMs : undefined
  }

  /** Requests booked now (admitted or booked, not yet released or cancelled). */
  get booked (): number {
    return this.bookedCount
  }

  /**
   * Whether to take a new piece's request for `bytes` now. An admitted request is booked until
   * its turn's bytes arrived (or left the process, without a delivery promise), or until
   * `cancel` when it will not be sent after all; `piece` (a key of the
   * caller's, e.g. task and index) stays booked as long, and is refused meanwhile.
   */
  admit (bytes: number, piece?: string): Admission {
    if (piece !== undefined && this.pieces.has(piece)) return { admit: false, retryAfterMs: this.retryAfterMs() }
    // Only fresh pieces go beyond `maxBooked`, and by `maxBooked` at most.
    const fresh = piece !== undefined && this.fresh.has(piece)
    if (this.bookedCount >= (fresh ? 2 * this.maxBooked : this.maxBooked)) return { admit: false, retryAfterMs: this.retryAfterMs() }
    if (piece !== undefined) this.pieces.add(piece)
    return this.book(bytes)
  }

  /**
   * `piece` (a key as `admit` takes) was fetched here from the origin: nobody else has it yet, so
   * its first copy goes first (see above). It stays fresh until a turn for it is released.
   */
  markFresh (piece: string): void {
    this.fresh.delete(piece)
    this.fresh.add(piece)
    if (this.fresh.size > this.maxFresh) this.fresh.delete(this.fresh.values().next().value!)
  }

  /** Books a request whatever is booked already (the rest of a piece already started). */
  book (bytes: number): Admission {
    this.bookedCount++
    this.bookedBytes += bytes
    return { admit: true }
  }

  /** A booked request that will not be sent: it leaves the queue (with its `piece`, if admitted with one). */
  cancel (bytes: number, piece?: string): void {
    this.unbook(bytes, piece)
  }

  /**
   * Waits for the link (first come, first served); `bytes` are the booked request's bytes,
   * `piece` its admission's key (booked until the release), and `owner` the connection sending
   * it: a turn of another owner starts only while fewer than `maxOnTheWay` turns of other owners
   * have bytes on their way (not yet nearly delivered, as their releases said).
   */
  async turn (bytes: number, signal: AbortSignal, piece?: string, owner?: unknown): Promise<UploadRelease> {
    if (signal.aborted) throw new AbortedError()
    const fresh = piece !== undefined && this.fresh.has(piece)
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        owner,
        fresh,
        grant: () => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        }
      }
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter)
        if (index >= 0) this.waiters.splice(index, 1)
        reject(new AbortedError())
        this.pass()
      }
      signal.addEventListener('abort', onAbort, { once: true })
      // Behind the fresh turns already waiting, before every other.
      const at = waiter.fresh ? this.waiters.findIndex(other => !other.fresh) : -1
      if (at < 0) this.waiters.push(waiter)
      else this.waiters.splice(at, 0, waiter)
      this.pass()
    })
    return this.take(bytes, piece, owner, fresh)
  }

  /**
   * Gives the link to the first in line, in the same turn of the event loop (nobody arriving
   * meanwhile can jump the queue), unless `maxOnTheWay` turns of other owners still have bytes
   * on their way: then once the first of them arrived.
   */
  private pass (): void {
    if (this.holding || this.deferred) return
    const next = this.waiters[0]
    if (next === undefined) return
    const others = this.onTheWay.filter(turn => turn.owner !== next.owner)
    // A fresh piece's first copy has the link to itself: sharing would delay every relay of it.
    const limit = next.fresh || others.some(turn => turn.fresh) ? 1 : this.maxOnTheWay
    if (new Set(others.map(turn => turn.owner)).size >= limit) {
      this.deferred = true
      void Promise.race(others.map(turn => turn.delivered)).finally(() => {
        this.deferred = false
        this.pass()
      })
      return
    }
    this.waiters.shift()
    this.holding = true
    next.grant()
  }

  private take (bytes: number, piece: string | undefined, owner: unknown, fresh: boolean): UploadRelease {
    this.holding = true
    const started = this.now()
    let released = false
    return (delivered) => {
      if (released) return
      released = true
      // Its first copy is out: other holders will have it.
      if (piece !== undefined) this.fresh.delete(piece)
      // Booked, and measured, until the bytes arrived: the bound on what is booked and the
      // retry hint are about the link, not about the kernel's buffers.
      const done = (): void => {
        this.unbook(bytes, piece)
        this.measure(bytes, this.now() - started)
      }
      if (delivered === undefined) done()
      else {
        const turn = { owner, fresh, delivered }
        this.onTheWay.push(turn)
        void delivered.finally(() => {
          this.onTheWay = this.onTheWay.filter(other => other !== turn)
          done()
        })
      }
      this.holding = false
      this.pass()
    }
  }

  private unbook (bytes: number, piece: string | undefined): void {
    if (piece !== undefined) this.pieces.delete(piece)
    this.bookedCount = Math.max(0, this.bookedCount - 1)
    this.bookedBytes = Math.max(0, this.bookedBytes - bytes)
  }

  private retryAfterMs (): number {
    const rate = this.bytesPerMs()
    if (rate === undefined) return unmeasuredRetryMs
    return Math.round(Math.min(maxRetryMs, Math.max(minRetryMs, this.bookedBytes / this.maxBooked / rate)))
  }

  /** Half the weight of what was measured before goes with each further 4 MiB sent. */
  private measure (bytes: number, ms: number): void {
    if (bytes <= 0) return
    const weight = 2 ** (-bytes / (4 * 1024 * 1024))
    this.sentBytes = this.sentBytes * weight + bytes
    this.heldMs = this.heldMs * weight + Math.max(ms, 0.01)
  }
}
