import { InvalidRangeError, RangeNotSatisfiableError } from '../errors.js'

/** A single byte range as the client wrote it, before the content length is known. */
export type RangeSpec =
  | { kind: 'from', start: number, end?: number }
  | { kind: 'suffix', length: number }

export interface ByteRange {
  start: number
  /** Inclusive. */
  end: number
}

/**
 * Parses `Range: bytes=a-b | a- | -n`. No header gives undefined; several ranges give
 * undefined too (served whole, as RFC 9110 allows); anything malformed is InvalidRangeError.
 */
export function parseRangeHeader (header: string | undefined): RangeSpec | undefined {
  if (header === undefined) return undefined
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header)
  if (match === null) throw new InvalidRangeError(`unsupported Range ${JSON.stringify(header.slice(0, 100))}: only bytes ranges are served`)
  const parts = match[1]!.split(',').map(part => part.trim()).filter(part => part !== '')
  if (parts.length !== 1) {
    if (parts.length === 0) throw new InvalidRangeError('empty Range')
    parts.forEach(parseOne)
    return undefined
  }
  return parseOne(parts[0]!)
}

function parseOne (part: string): RangeSpec {
  const match = /^(\d*)\s*-\s*(\d*)$/.exec(part)
  if (match === null || (match[1] === '' && match[2] === '')) throw new InvalidRangeError(`malformed byte range ${JSON.stringify(part.slice(0, 100))}`)
  const [, first = '', last = ''] = match
  if (first === '') {
    const length = safeNumber(last)
    return { kind: 'suffix', length }
  }
  const start = safeNumber(first)
  if (last === '') return { kind: 'from', start }
  const end = safeNumber(last)
  if (end < start) throw new InvalidRangeError(`byte range ${part} ends before it starts`)
  return { kind: 'from', start, end }
}

function safeNumber (digits: string): number {
  const value = Number(digits)
  if (!Number.isSafeInteger(value)) throw new InvalidRangeError(`byte position ${digits.slice(0, 30)} is too large`)
  return value
}

/** The range within a `length`-byte content, or RangeNotSatisfiableError (416). */
export function resolveRange (spec: RangeSpec, length: number): ByteRange {
  if (spec.kind === 'suffix') {
    if (spec.length === 0 || length === 0) throw new RangeNotSatisfiableError(length)
    return { start: Math.max(0, length - spec.length), end: length - 1 }
  }
  if (spec.start >= length) throw new RangeNotSatisfiableError(length)
  return { start: spec.start, end: Math.min(spec.end ?? length - 1, length - 1) }
}
