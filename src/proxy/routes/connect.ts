import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { BadRequestError, LimitReachedError, UpstreamNotAllowedError, type DamselflyError } from '../../errors.js'
import type { UpstreamHosts } from '../../limits/access-list.js'
import type { Logger } from '../../logging/logger.js'
import type { Metrics } from '../../metrics/metrics.js'
import { tunnel } from '../connect-tunnel.js'
import { errorCodeHeader, errorTypeHeader, httpFailureOf } from '../error-response.js'
import type { TlsInterceptor } from '../tls-intercept.js'

export interface ConnectComponents {
  logger: Logger
  /** Throws the error a refused client gets (HTTP version, network, rate). */
  admit: (request: IncomingMessage) => void
  /** Whether `host:port` is this proxy: a tunnel there would loop. */
  isSelf: (host: string, port: number) => boolean
  /** Terminates TLS for the hosts it matches; without it every CONNECT is a blind tunnel. */
  interceptor?: TlsInterceptor
  metrics?: Pick<Metrics, 'proxyRequest'>
}

export interface ConnectInit {
  connectTimeoutMs: number
  /** Hosts tunnels may go to. @default every host */
  allowedUpstreams?: UpstreamHosts
}

/** `CONNECT host:port`: admitted like any request, then a blind tunnel or an intercepted one. */
export class ConnectRoute {
  private readonly components: ConnectComponents
  private readonly init: ConnectInit
  private readonly log: Logger

  constructor (components: ConnectComponents, init: ConnectInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('proxy')
  }

  serve (request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { metrics } = this.components
    // A refused client that resets its socket must not become an uncaught error.
    socket.on('error', () => { socket.destroy() })
    try {
      this.components.admit(request)
      const [, host = '', port] = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(request.url ?? '') ?? []
      if (port !== undefined && this.components.isSelf(host, Number(port))) throw new BadRequestError(`CONNECT target ${host}:${port} is this proxy: the tunnel would loop`)
      if (this.init.allowedUpstreams !== undefined && !this.init.allowedUpstreams.allows(host)) throw new UpstreamNotAllowedError(host)
    } catch (error) {
      metrics?.proxyRequest('rejected')
      refuseTunnel(socket, error as DamselflyError)
      return
    }
    metrics?.proxyRequest('passthrough')
    tunnel(request, socket, head, {
      connectTimeoutMs: this.init.connectTimeoutMs,
      onError: (error, authority) => { this.log.debug('tunnel failed', { authority, error }) },
      interceptor: this.components.interceptor
    })
  }
}

/** A CONNECT the node refuses (client or host not allowed, rate exceeded), answered on the raw socket. */
function refuseTunnel (socket: Duplex, error: DamselflyError): void {
  const { status, type } = httpFailureOf(error)
  const reason = status === 429 ? 'Too Many Requests' : status === 403 ? 'Forbidden' : status === 505 ? 'HTTP Version Not Supported' : 'Bad Request'
  const retryAfter = error instanceof LimitReachedError ? `retry-after: ${error.retryAfterSeconds}\r\n` : ''
  const body = `${error.message}\n`
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${errorTypeHeader}: ${type}\r\n${errorCodeHeader}: ${error.code}\r\n${retryAfter}connection: close\r\n\r\n${body}`)
}
