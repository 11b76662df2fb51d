import type { Hasher, Sink, Target } from './child.js'
import type { PathSpec } from './spec.js'

/** What a transport's receiver gets: the sink counts bytes; `fail` ends the run with an error. */
export interface ReceiverContext {
  spec: PathSpec
  size: number
  target: Target
  verify: boolean
  sink: Sink
  fail: (error: unknown) => void
}

/** A receiver ready for bytes: what to tell the sender, and how to shut down. */
export interface ReceiverSetup {
  target: Target
  close: () => Promise<void>
}

export interface SenderContext {
  spec: PathSpec
  size: number
  target: Target
  verify: boolean
  payload: Buffer
  /** One digest per stream or connection, when verifying. */
  digests: string[]
  makeHasher: () => Hasher
  /** For a sender that listens: tells the orchestrator where the receiver connects. */
  ready: (target: Target) => void
  /** Call right before the first byte: starts the clock and the profiler. */
  start: () => Promise<void>
}

export interface SenderDone {
  close: () => Promise<void>
  /** Resolves once the receiver hung up (it has counted everything). */
  waitClosed: () => Promise<void>
}

/** One transport of bench-p2p: both ends. */
export interface Transport {
  receive: (context: ReceiverContext) => Promise<ReceiverSetup>
  /** Sets up, calls `start`, sends `size` bytes. */
  send: (context: SenderContext) => Promise<SenderDone>
}
