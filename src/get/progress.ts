import { formatBytes, formatDuration, formatRate, RateMeter } from '../cli/units.js'

export interface ProgressInit {
  write: (text: string) => void
  /** Redraw bars in place (stderr is a terminal and --quiet was not given). */
  live: boolean
  /** No summary line: only errors are written. */
  quiet: boolean
  /** Terminal width; lines are cut to it so the cursor arithmetic holds. */
  columns: () => number
  /** @default 100 */
  intervalMs?: number
  now?: () => number
}

export type FileOutcome = 'downloaded' | 'cached' | 'failed'

interface ActiveFile {
  label: string
  size?: number
  done: number
  rate: RateMeter
}

const maxFileLines = 6

/**
 * What `damselfly get` shows while it works. On a terminal: a bar per file being downloaded and
 * one for the whole, redrawn ten times a second (bytes, rate, ETA); finished files scroll up as
 * one line each. Anywhere else: nothing until the summary line, so logs and pipes stay clean.
 */
export class Progress {
  private readonly init: ProgressInit
  private readonly now: () => number
  private readonly active = new Map<string, ActiveFile>()
  private readonly overallRate = new RateMeter()
  private readonly startedAt: number
  private readonly timer?: NodeJS.Timeout
  private pendingLines: string[] = []
  private drawnLines = 0
  private stopped = false
  private totalFiles = 0
  private totalBytes = 0
  private doneBytes = 0
  private readonly counts: Record<FileOutcome, number> = { downloaded: 0, cached: 0, failed: 0 }
  private downloadedBytes = 0

  constructor (init: ProgressInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.startedAt = this.now()
    if (init.live) {
      this.timer = setInterval(() => { this.render() }, init.intervalMs ?? 100)
      this.timer.unref()
    }
  }

  /** The work ahead, once known: files and (as far as the listing says) bytes. */
  plan (files: number, bytes: number): void {
    this.totalFiles = files
    this.totalBytes = bytes
  }

  start (id: string, label: string, size?: number): void {
    this.active.set(id, { label, ...(size !== undefined ? { size } : {}), done: 0, rate: new RateMeter() })
  }

  /** A size learnt from the response (a URL has no listing). */
  resize (id: string, size: number): void {
    const file = this.active.get(id)
    if (file === undefined || file.size !== undefined) return
    file.size = size
    this.totalBytes += size
  }

  advance (id: string, bytes: number): void {
    const file = this.active.get(id)
    if (file !== undefined) file.done += bytes
    this.doneBytes += bytes
  }

  finish (id: string, outcome: FileOutcome, size: number): void {
    const file = this.active.get(id)
    this.active.delete(id)
    this.counts[outcome]++
    if (outcome === 'downloaded') this.downloadedBytes += size
    // What a failed file had sent no longer counts towards the whole.
    if (outcome === 'failed') this.doneBytes -= file?.done ?? 0
    else this.doneBytes += size - (file?.done ?? 0)
    if (this.init.live && outcome !== 'failed') {
      this.pendingLines.push(`${outcome === 'cached' ? 'in cache ' : 'done     '} ${file?.label ?? id}  ${formatBytes(size)}`)
    }
  }

  /** A message line (an error), above the bars on a terminal. */
  message (line: string): void {
    if (this.init.live) this.pendingLines.push(line)
    else this.init.write(`${line}\n`)
  }

  /** Stops redrawing and clears the bars, leaving finished lines and messages. */
  stop (): void {
    if (this.stopped) return
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    if (this.init.live) this.render(true)
  }

  /** Stops, then writes the summary (unless quiet). */
  close (where?: string): void {
    this.stop()
    if (this.init.quiet) return
    const seconds = (this.now() - this.startedAt) / 1000
    const parts = [`${this.counts.downloaded} file${this.counts.downloaded === 1 ? '' : 's'} downloaded (${formatBytes(this.downloadedBytes)}) in ${formatDuration(seconds)}`]
    if (seconds > 0 && this.downloadedBytes > 0) parts[0] += `, ${formatRate(this.downloadedBytes / seconds)}`
    if (this.counts.cached > 0) parts.push(`${this.counts.cached} already in the cache`)
    if (this.counts.failed > 0) parts.push(`${this.counts.failed} failed`)
    this.init.write(`damselfly get: ${parts.join('; ')}${where !== undefined && this.counts.failed === 0 ? ` → ${where}` : ''}\n`)
  }

  /** One frame: back to the top of the bars, finished lines, then the bars again (none at the end). */
  private render (final = false): void {
    const width = Math.max(20, this.init.columns() - 1)
    let frame = '\r'
    if (this.drawnLines > 0) frame += `\x1b[${this.drawnLines}A`
    frame += '\x1b[J'
    for (const line of this.pendingLines) frame += `${cut(line, width)}\n`
    this.pendingLines = []
    const bars: string[] = []
    if (!final) {
      const now = this.now()
      const files = [...this.active.values()]
      for (const file of files.slice(0, maxFileLines)) bars.push(fileLine(file, file.rate.sample(now, file.done), width))
      if (files.length > maxFileLines) bars.push(`  … and ${files.length - maxFileLines} more`)
      bars.push(this.overallLine(this.overallRate.sample(now, this.doneBytes), width))
    }
    for (const line of bars) frame += `${cut(line, width)}\n`
    this.drawnLines = bars.length
    this.init.write(frame)
  }

  private overallLine (rate: number, width: number): string {
    const finished = this.counts.downloaded + this.counts.cached + this.counts.failed
    const left = this.totalBytes - this.doneBytes
    const eta = rate > 0 && left > 0 ? `  ETA ${formatDuration(left / rate)}` : ''
    return `${bar(this.totalBytes > 0 ? this.doneBytes / this.totalBytes : 0, barWidth(width))} ${finished}/${this.totalFiles} files  ${formatBytes(this.doneBytes)} / ${formatBytes(this.totalBytes)}  ${formatRate(rate)}${eta}`
  }
}

function fileLine (file: ActiveFile, rate: number, width: number): string {
  const size = file.size
  const fraction = size !== undefined && size > 0 ? file.done / size : 0
  const eta = size !== undefined && rate > 0 ? `  ETA ${formatDuration((size - file.done) / rate)}` : ''
  const amount = size !== undefined ? `${formatBytes(file.done)} / ${formatBytes(size)}` : formatBytes(file.done)
  return `${bar(fraction, barWidth(width))} ${file.label}  ${amount}  ${formatRate(rate)}${eta}`
}

function barWidth (width: number): number {
  return Math.max(10, Math.min(30, Math.floor(width / 4)))
}

function bar (fraction: number, width: number): string {
  const clamped = Math.min(1, Math.max(0, fraction))
  const filled = Math.round(clamped * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(clamped * 100)).padStart(3)}%`
}

function cut (line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`
}
