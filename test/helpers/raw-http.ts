import { connect } from 'node:net'

/** What came back on a raw socket: the first response head, if one parsed, and how it ended. */
export interface RawAnswer {
  /** Every byte the server sent. */
  bytes: Buffer
  /** The first response's status code, or undefined when nothing or no valid status line came. */
  status?: number
  statusLine?: string
  headers: Record<string, string>
  /** The server closed the connection (as opposed to our timeout ending the wait). */
  closed: boolean
  timedOut: boolean
  /** Bytes after the first response: a second response here means the request was split in two. */
  trailing: Buffer
}

const statusLinePattern = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/

/**
 * Sends `payload` (in `chunks` pieces, `gapMs` apart, to look like a slow client) and reads
 * until the server closes, one whole response has arrived, or `timeoutMs` passes.
 */
export async function rawRequest (address: string, payload: Buffer | string, init: { timeoutMs?: number, chunks?: number, gapMs?: number, endAfterWrite?: boolean } = {}): Promise<RawAnswer> {
  const [host = '127.0.0.1', port = '0'] = splitHostPort(address)
  const data = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload
  const received: Buffer[] = []
  return await new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) })
    let settled = false
    const finish = (closed: boolean, timedOut: boolean): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(parseAnswer(Buffer.concat(received), closed, timedOut))
    }
    const timer = setTimeout(() => { finish(false, true) }, init.timeoutMs ?? 5000)
    let length = 0
    let expected: number | undefined
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk)
      length += chunk.length
      // Parsing the head once is enough; after that only the byte count matters.
      if (expected === undefined) {
        const all = Buffer.concat(received)
        received.splice(0, received.length, all)
        expected = completeLength(all)
      }
      if (expected !== undefined && length >= expected) finish(false, false)
    })
    socket.on('close', () => { finish(true, false) })
    // A reset after the server answered is an ordinary way for it to drop a bad client.
    socket.on('error', () => { finish(true, false) })
    socket.on('connect', () => {
      void writeSlowly(data, init.chunks ?? 1, init.gapMs ?? 0, (piece) => socket.write(piece)).then(() => {
        if (init.endAfterWrite === true) socket.end()
      })
    })
  })
}

function splitHostPort (address: string): [string, string] {
  const colon = address.lastIndexOf(':')
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), address.slice(colon + 1)]
}

async function writeSlowly (data: Buffer, chunks: number, gapMs: number, write: (piece: Buffer) => boolean): Promise<void> {
  const size = Math.ceil(data.length / chunks)
  for (let offset = 0; offset < data.length; offset += size) {
    write(data.subarray(offset, offset + size))
    if (gapMs > 0 && offset + size < data.length) await new Promise(resolve => setTimeout(resolve, gapMs))
  }
}

/**
 * How many bytes (from the start, 1xx heads included) make one whole final response, once its
 * head has arrived and gives a length; undefined before that or when only closing ends it.
 */
function completeLength (all: Buffer): number | undefined {
  const bytes = withoutInterim(all)
  const end = bytes.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const { headers } = parseHead(bytes.subarray(0, end).toString('latin1'))
  const interim = all.length - bytes.length
  if (headers['content-length'] !== undefined) return interim + end + 4 + Number(headers['content-length'])
  // Chunked error bodies are short: wait for the last chunk or for the server to close.
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) return bytes.includes('\r\n0\r\n\r\n') ? all.length : undefined
  return undefined
}

function parseHead (head: string): { statusLine: string, headers: Record<string, string> } {
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { statusLine, headers }
}

/** Drops `100 Continue` and other 1xx heads: the answer is the final response. */
function withoutInterim (bytes: Buffer): Buffer {
  let rest = bytes
  while (/^HTTP\/1\.[01] 1\d\d/.test(rest.subarray(0, 12).toString('latin1'))) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) return Buffer.alloc(0)
    rest = rest.subarray(end + 4)
  }
  return rest
}

function parseAnswer (all: Buffer, closed: boolean, timedOut: boolean): RawAnswer {
  const bytes = withoutInterim(all)
  const end = bytes.indexOf('\r\n\r\n')
  if (end < 0) return { bytes: all, headers: {}, closed, timedOut, trailing: Buffer.alloc(0) }
  const { statusLine, headers } = parseHead(bytes.subarray(0, end).toString('latin1'))
  const match = statusLinePattern.exec(statusLine)
  const bodyStart = end + 4
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length'])
  const trailing = length === undefined ? Buffer.alloc(0) : bytes.subarray(bodyStart + length)
  return { bytes: all, status: match === null ? undefined : Number(match[1]), statusLine, headers, closed, timedOut, trailing }
}
