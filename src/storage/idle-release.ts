/**
 * Lets go of something kept for reuse (hashing threads, a free list of buffers) once it has not
 * been used for `idleMs`: a node that downloaded or served a file and then sits idle should not
 * keep the memory of its busiest moment (docs/scale.md, "Idle nodes"). `touch` on every use is
 * one assignment; a single timer checks, and only while something is kept.
 * The clock and the timer are injected, so the decision is tested without waiting.
 */
export interface IdleReleaseInit {
  /** Quiet time after the last use before `release` runs. */
  idleMs: number
  /** Frees what is kept. Called only when `busy` (if given) says false. */
  release: () => void
  /** True while what is kept is in use (a thread with work): the release waits for another period. */
  busy?: () => boolean
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
  /** Runs `callback` after `ms`; returns a cancel call. @default an unref'd setTimeout */
  schedule?: (callback: () => void, ms: number) => () => void
}

const unrefTimer = (callback: () => void, ms: number): () => void => {
  const timer = setTimeout(callback, ms)
  timer.unref()
  return () => { clearTimeout(timer) }
}

export class IdleRelease {
  private readonly init: IdleReleaseInit
  private readonly now: () => number
  private readonly schedule: (callback: () => void, ms: number) => () => void
  private lastUse = 0
  private cancel?: () => void

  constructor (init: IdleReleaseInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.schedule = init.schedule ?? unrefTimer
  }

  /** Something kept was used (or is now kept): the release is `idleMs` from now at the earliest. */
  touch (): void {
    this.lastUse = this.now()
    if (this.cancel === undefined) this.arm(this.init.idleMs)
  }

  /** Nothing is kept any more (released by other means): no check is due. */
  stop (): void {
    this.cancel?.()
    this.cancel = undefined
  }

  private arm (ms: number): void {
    this.cancel = this.schedule(() => { this.check() }, ms)
  }

  private check (): void {
    this.cancel = undefined
    const quiet = this.now() - this.lastUse
    if (quiet < this.init.idleMs) {
      this.arm(this.init.idleMs - quiet)
      return
    }
    if (this.init.busy?.() === true) {
      this.arm(this.init.idleMs)
      return
    }
    this.init.release()
  }
}
