/** The middle value (the upper middle for an even count); 0 for no values. */
export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

/** Rounds to `digits` decimals, for tables and JSON that people read. */
export function round (value: number, digits = 1): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}
