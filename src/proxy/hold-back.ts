/**
 * How much of a response waits for the whole-file sha256 check. The final bytes are held until
 * the file is known good, so a client can never finish a body that turns out wrong: on a
 * mismatch the connection is cut and the body stays short.
 */

/** Bytes at the end of a response held back until the whole file is verified. */
export const holdBackBytes = 64 * 1024

export interface HoldBackInit {
  /** Content length. */
  length: number
  /** First and last byte of the response (inclusive). */
  start: number
  end: number
  /** The whole-file check is still pending (TaskMeta.sha256 set and not yet verified). */
  awaitingCheck: boolean
  /** @default holdBackBytes */
  holdBytes?: number
}

/**
 * The offset from which a response's bytes wait for the whole-file check; `end + 1` when none
 * do. Only a response that reaches the last byte of the file is held: a client can only
 * complete the file by fetching its end, so holding that back is enough to keep a wrong file
 * from ever being complete, while a small ranged read from the middle of a large file (a
 * safetensors header) is not made to wait for the whole download.
 */
export function heldBackFrom (init: HoldBackInit): number {
  const { length, start, end } = init
  if (!init.awaitingCheck || end < start || end !== length - 1) return end + 1
  return Math.max(start, end + 1 - (init.holdBytes ?? holdBackBytes))
}
