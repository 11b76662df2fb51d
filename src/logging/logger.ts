/**
 * One logger for the whole process, namespaced `damselfly:<area>`. Human-readable lines by
 * default; with `--log-format json`, one JSON object per line: time, level, component, msg,
 * then the fields. Debug output is enabled per namespace with
 * DEBUG=damselfly:* (the convention libp2p also follows).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFormat = 'human' | 'json'

export interface Logger {
  debug: (message: string, fields?: Record<string, unknown>) => void
  info: (message: string, fields?: Record<string, unknown>) => void
  warn: (message: string, fields?: Record<string, unknown>) => void
  error: (message: string, fields?: Record<string, unknown>) => void
  forComponent: (area: string) => Logger
}

export interface LoggerInit {
  level?: LogLevel
  format?: LogFormat
  /** Where lines go; standard error by default so standard output stays for command results. */
  write?: (line: string) => void
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export function createLogger (init: LoggerInit = {}, area = 'damselfly'): Logger {
  const minimum = levelRank[init.level ?? 'info']
  const format = init.format ?? 'human'
  const write = init.write ?? ((line: string) => { process.stderr.write(line + '\n') })
  const debugEnabled = debugNamespaceEnabled(area)

  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (levelRank[level] < minimum && !(level === 'debug' && debugEnabled)) return
    const time = new Date().toISOString()
    if (format === 'json') {
      write(jsonLine({ time, level, component: area, msg: message }, fields))
      return
    }
    const extra = fields === undefined
      ? ''
      : ' ' + Object.entries(fields).map(([key, value]) => `${key}=${formatValue(value)}`).join(' ')
    write(`${time} ${level.toUpperCase().padEnd(5)} ${area} ${message}${extra}`)
  }

  return {
    debug: (message, fields) => { emit('debug', message, fields) },
    info: (message, fields) => { emit('info', message, fields) },
    warn: (message, fields) => { emit('warn', message, fields) },
    error: (message, fields) => { emit('error', message, fields) },
    forComponent: (child) => createLogger(init, `damselfly:${child}`)
  }
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => {} })

/**
 * One JSON object: the fixed keys first (a field cannot overwrite them), then the fields.
 * Errors become their name, code and message (JSON.stringify alone writes `{}`); bigints
 * become strings; a value that cannot be serialised is replaced rather than losing the line.
 */
function jsonLine (fixed: Record<string, string>, fields: Record<string, unknown> = {}): string {
  const record: Record<string, unknown> = { ...fixed }
  for (const [key, value] of Object.entries(fields)) {
    if (!(key in fixed)) record[key] = value
  }
  const replacer = (_key: string, value: unknown): unknown => {
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code
      return { name: value.name, ...(typeof code === 'string' ? { code } : {}), message: value.message }
    }
    return typeof value === 'bigint' ? value.toString() : value
  }
  try {
    return JSON.stringify(record, replacer)
  } catch (error) {
    return JSON.stringify({ ...fixed, logError: `fields not serialisable: ${error instanceof Error ? error.message : String(error)}` })
  }
}

function formatValue (value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message)
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value)
}

function debugNamespaceEnabled (area: string): boolean {
  const patterns = (process.env.DEBUG ?? '').split(',').map(pattern => pattern.trim()).filter(Boolean)
  return patterns.some(pattern => pattern.endsWith('*') ? area.startsWith(pattern.slice(0, -1)) : area === pattern)
}
