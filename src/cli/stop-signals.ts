import { constants } from 'node:os'
import type { Logger } from '../logging/logger.js'

/** Exit statuses of `damselfly start` once a signal came (docs/operations.md, "Stop"). */
export const stopExitCodes = {
  /** Stopped cleanly: every part closed, metadata saved. */
  stopped: 0,
  /** The stop failed or overran its deadline; metadata is as the last checkpoint left it. */
  unclean: 1
} as const

/** A second signal exits at once, with the shell's status for that signal: 130 (SIGINT), 143 (SIGTERM). */
export function signalExitCode (signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0)
}

export interface StopOnSignalsInit {
  logger: Logger
  /**
   * The longest a stop may take before the process exits anyway (status 1). Under the 10 s a
   * node is promised after SIGTERM, and well under Kubernetes' 30 s grace period. @default 8000
   */
  deadlineMs?: number
  /** @default ['SIGINT', 'SIGTERM'] */
  signals?: NodeJS.Signals[]
  /** @default process.exit */
  exit?: (code: number) => void
}

/**
 * The first SIGINT/SIGTERM runs `stop` and then exits the process explicitly: a forgotten
 * handle (a socket, a timer of a library) must not keep a stopped node alive. A stop that
 * overruns `deadlineMs` is abandoned; a second signal exits at once. Both are safe for the
 * cache: metadata is replaced atomically and only ever claims synced pieces.
 */
export function stopOnSignals (stop: () => Promise<void>, init: StopOnSignalsInit): void {
  const log = init.logger
  const exit = init.exit ?? ((code: number) => process.exit(code))
  const deadlineMs = init.deadlineMs ?? 8000
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn('second signal: exiting now, without waiting for the stop', { signal })
      exit(signalExitCode(signal))
      return
    }
    stopping = true
    log.info('stopping', { signal, deadlineMs })
    const deadline = setTimeout(() => {
      log.error('the stop did not finish in time: exiting', { deadlineMs })
      exit(stopExitCodes.unclean)
    }, deadlineMs)
    stop().then(() => {
      clearTimeout(deadline)
      exit(stopExitCodes.stopped)
    }, (error: unknown) => {
      clearTimeout(deadline)
      log.error('stop failed', { error })
      exit(stopExitCodes.unclean)
    })
  }
  for (const signal of init.signals ?? ['SIGINT', 'SIGTERM']) process.on(signal, onSignal)
}
