import type { IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'

export interface TunnelInit {
  connectTimeoutMs: number
  onError: (error: Error, authority: string) => void
}

/** CONNECT host:port — a blind TCP tunnel (HTTPS passes untouched unless intercepted later). */
export function tunnel (request: IncomingMessage, client: Duplex, head: Buffer, init: TunnelInit): void {
  const authority = request.url ?? ''
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(authority)
  const port = Number(match?.[2])
  if (match === null || port < 1 || port > 65535) {
    rejectTunnel(client, 400, 'Bad Request', `CONNECT target ${JSON.stringify(authority.slice(0, 200))} is not host:port`)
    return
  }
  const host = match[1]!.replace(/^\[|\]$/g, '')
  const upstream: Socket = connect({ host, port, timeout: init.connectTimeoutMs })
  upstream.once('timeout', () => { upstream.destroy(new Error('connect timeout')) })
  let established = false
  upstream.once('connect', () => {
    established = true
    upstream.setTimeout(0)
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    if (head.length > 0) upstream.write(head)
    upstream.pipe(client)
    client.pipe(upstream)
  })
  upstream.on('error', (error) => {
    init.onError(error, authority)
    if (established) client.destroy()
    else rejectTunnel(client, 502, 'Bad Gateway', `cannot connect to ${authority}: ${error.message}`)
  })
  client.on('error', () => { upstream.destroy() })
  client.on('close', () => { upstream.destroy() })
  upstream.on('close', () => { client.destroy() })
}

function rejectTunnel (client: Duplex, status: number, reason: string, message: string): void {
  if (!client.writable) return
  const body = message + '\n'
  client.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-dragonfly-error-type: ${status === 400 ? 'proxy' : 'backend'}\r\nconnection: close\r\n\r\n${body}`)
}
