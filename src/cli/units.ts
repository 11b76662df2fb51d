/** Human sizes, rates and durations for progress lines and summaries. */

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function formatBytes (bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < byteUnits.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${byteUnits[unit] ?? ''}`
}

export function formatRate (bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`
}

export function formatDuration (seconds: number): string {
  if (!Number.isFinite(seconds)) return '--'
  if (seconds < 10) return `${seconds.toFixed(1)} s`
  const whole = Math.round(seconds)
  if (whole < 60) return `${whole} s`
  const minutes = Math.floor(whole / 60)
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, '0')}s`
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`
}

/** Bytes per second over the last few seconds: steady enough to read, quick to follow a change. */
export class RateMeter {
  private readonly samples: Array<{ at: number, bytes: number }> = []
  private readonly windowMs: number

  constructor (windowMs = 3000) {
    this.windowMs = windowMs
  }

  /** Records the running total at `now`, returns the current rate. */
  sample (now: number, totalBytes: number): number {
    this.samples.push({ at: now, bytes: totalBytes })
    while (this.samples.length > 2 && (this.samples[0]?.at ?? now) < now - this.windowMs) this.samples.shift()
    const first = this.samples[0]
    if (first === undefined || now <= first.at) return 0
    return (totalBytes - first.bytes) * 1000 / (now - first.at)
  }
}
