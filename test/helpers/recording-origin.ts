import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A plain origin that remembers the path of every request it gets, so a test can tell which of
 * thousands of requests reached it, even one that arrives late. Paths under `/repos/` answer
 * 404 (no task is kept), anything else answers 200 with a short body.
 */
export interface RecordingOrigin {
  url: string
  /** Every request line seen, as `METHOD /path`. */
  seen: string[]
  close: () => Promise<void>
}

export async function startRecordingOrigin (): Promise<RecordingOrigin> {
  const seen: string[] = []
  const server = createServer((request, response) => {
    seen.push(`${request.method ?? ''} ${request.url ?? ''}`)
    // Drain any body so the connection stays usable.
    request.resume()
    request.on('end', () => {
      const body = (request.url ?? '').startsWith('/repos/') ? '{"error":"not found"}' : 'ok\n'
      response.writeHead(body === 'ok\n' ? 200 : 404, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
      response.end(body)
    })
    request.on('error', () => { response.destroy() })
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
