import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { isIP, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import { BadRequestError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import { HostMatcher } from '../tls/host-patterns.js'
import type { LeafIssuer } from '../tls/leaf-issuer.js'
import { sendError } from './error-response.js'

export interface TlsInterceptorComponents {
  issuer: LeafIssuer
  logger: Logger
  /** Serves one decrypted request; its `url` has been made absolute (`https://host:port/…`). */
  handle: (request: IncomingMessage, response: ServerResponse) => void
  /** Answers a request the HTTP parser refused (the proxy's own 400 / 431). */
  rejectMalformed: (error: NodeJS.ErrnoException, socket: Duplex) => void
}

export interface TlsInterceptorInit {
  /** `--intercept-host` patterns. */
  hosts: readonly string[]
  maxHeaderBytes: number
}

/**
 * Terminates TLS for CONNECT targets the user listed, with a leaf certificate from the node's
 * CA, and hands every request inside to the proxy as if it had come as `GET https://host/…`:
 * rules, tasks and the swarm then apply to HTTPS as they do to plain HTTP.
 */
export class TlsInterceptor {
  private readonly components: TlsInterceptorComponents
  private readonly hosts: HostMatcher
  private readonly log: Logger
  /** Parses the decrypted streams; it never listens, connections are handed to it. */
  private readonly server: Server
  private readonly origins = new WeakMap<Duplex, string>()
  private readonly sockets = new Set<TLSSocket>()

  constructor (components: TlsInterceptorComponents, init: TlsInterceptorInit) {
    this.components = components
    this.hosts = new HostMatcher(init.hosts)
    this.log = components.logger.forComponent('proxy:tls')
    this.server = createServer({ maxHeaderSize: init.maxHeaderBytes, requestTimeout: 0 }, (request, response) => {
      this.serve(request, response)
    })
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      // Handshake failures (the client does not trust the CA) end the connection; only HTTP
      // parse errors get an HTTP answer.
      if (error.code?.startsWith('HPE_') === true || error.code === 'ERR_HTTP_REQUEST_TIMEOUT') this.components.rejectMalformed(error, socket)
      else socket.destroy()
    })
  }

  matches (host: string, port: number): boolean {
    return this.hosts.matches(host, port)
  }

  /**
   * Answers the CONNECT with 200 once the host's certificate is ready, then speaks TLS with
   * the client. Rejects only before the 200 (the certificate could not be made).
   */
  async intercept (client: Duplex, head: Buffer, host: string, port: number): Promise<void> {
    // The HTTP server took its error listener off the socket when it handed the CONNECT over.
    client.on('error', (error) => { this.log.debug('intercepted client failed', { host, port, error }) })
    const leaf = await this.components.issuer.issue(host)
    if (client.destroyed) return
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    // Bytes the client sent after the CONNECT head: TLSSocket reads what is buffered first.
    if (head.length > 0) client.unshift(head)
    const secure = new TLSSocket(client as Socket, { isServer: true, secureContext: leaf.secureContext, ALPNProtocols: ['http/1.1'] })
    secure.on('error', (error) => { this.log.debug('intercepted connection failed', { host, port, error }) })
    this.sockets.add(secure)
    secure.once('close', () => {
      this.sockets.delete(secure)
      client.destroy()
    })
    const hostPart = isIP(host) === 6 ? `[${host}]` : host
    this.origins.set(secure, new URL(`https://${hostPart}:${port}`).origin)
    this.server.emit('connection', secure)
  }

  close (): void {
    for (const socket of this.sockets) socket.destroy()
  }

  private serve (request: IncomingMessage, response: ServerResponse): void {
    const origin = this.origins.get(request.socket)
    const target = request.url ?? ''
    if (origin === undefined || !target.startsWith('/')) {
      sendError(response, new BadRequestError(`inside an intercepted tunnel the request target must be a path, got ${JSON.stringify(target.slice(0, 200))}`))
      return
    }
    // The CONNECT target decides where the request goes, as for a blind tunnel, not its Host header.
    request.url = origin + target
    this.components.handle(request, response)
  }
}
