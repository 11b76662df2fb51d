import type { IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { TlsInterceptor } from './tls-intercept.js'

export interface TunnelInit {
  connectTimeoutMs: number
  onError: (error: Error, authority: string) => void
  /** Terminates TLS for the hosts it matches; without it every CONNECT is a blind tunnel. */
  interceptor?: TlsInterceptor
}

/** CONNECT host:port — a blind TCP tunnel, unless the host is one to intercept. */
export function tunnel (request: IncomingMessage, client: Duplex, head: Buffer, init: TunnelInit): void {
  const authority = request.url ?? ''
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(authority)
  const port = Number(match?.[2])
  if (match === null || port < 1 || port > 65535) {
    rejectTunnel(client, 400, 'Bad Request', `CONNECT target ${JSON.stringify(authority.slice(0, 200))} is not host:port`, 'proxy')
    return
  }
  const host = match[1]!.replace(/^\[|\]$/g, '')
  const interceptor = init.interceptor
  if (interceptor?.matches(host, port) === true) {
    interceptor.intercept(client, head, host, port).catch((error: Error) => {
      init.onError(error, authority)
      rejectTunnel(client, 500, 'Internal Server Error', `cannot make a certificate for ${host}: ${error.message}`, 'proxy')
    })
    return
  }
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
    else rejectTunnel(client, 502, 'Bad Gateway', `cannot connect to ${authority}: ${error.message}`, 'backend')
  })
  client.on('error', () => { upstream.destroy() })
  client.on('close', () => { upstream.destroy() })
  upstream.on('close', () => { client.destroy() })
}

function rejectTunnel (client: Duplex, status: number, reason: string, message: string, type: 'proxy' | 'backend'): void {
  if (!client.writable) return
  const body = message + '\n'
  client.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-dragonfly-error-type: ${type}\r\nconnection: close\r\n\r\n${body}`)
}
