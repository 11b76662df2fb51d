import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { Agent, type Dispatcher } from 'undici'
import { AbortedError, BadRequestError, ClientNotAllowedError, DamselflyError, HttpVersionError, LimitReachedError, UpstreamNotAllowedError } from '../errors.js'
import type { ClientNetworks, UpstreamHosts } from '../limits/access-list.js'
import type { RequestLimiter } from '../limits/request-limiter.js'
import type { Pace } from '../limits/token-bucket.js'
import type { Logger } from '../logging/logger.js'
import type { LeafIssuer } from '../tls/leaf-issuer.js'
import type { Metrics } from '../metrics/metrics.js'
import type { OriginClient } from '../origin/origin-client.js'
import type { TaskManager } from '../task/task-manager.js'
import { AccessCheck } from './access-check.js'
import { errorCodeHeader, errorTypeHeader, httpFailureOf, sendError } from './error-response.js'
import { resolveTarget } from './resolve-target.js'
import { isOwnAddress } from './self-address.js'
import { ConnectRoute } from './routes/connect.js'
import { hubApiCall } from '../hub/hub-api.js'
import { HubApiRoute } from './routes/hub-api.js'
import { HubMirrorRoute, isHubResolve } from './routes/hub-mirror.js'
import { PassthroughRoute } from './routes/passthrough.js'
import type { Outcome } from './routes/route.js'
import { ThroughTaskRoute } from './routes/through-task.js'
import { ProxyRules } from './rules.js'
import { TlsInterceptor } from './tls-intercept.js'

export interface ProxyServerComponents {
  tasks: TaskManager
  logger: Logger
  /** Makes certificates for intercepted hosts; needed when `interceptHosts` is not empty. */
  issuer?: LeafIssuer
  /** For access checks on private tasks. */
  origin: Pick<OriginClient, 'probe'>
  metrics?: Pick<Metrics, 'proxyRequest' | 'bytes' | 'sentToClient'>
}

export interface ProxyServerInit {
  host: string
  port: number
  registry: string
  rules: string[]
  filteredQueryParams: string[]
  connectTimeoutMs: number
  /** Largest request head accepted; larger ones get 431. @default 16384 */
  maxHeaderBytes?: number
  /** CONNECT targets whose TLS is terminated here (`--intercept-host`). @default [] */
  interceptHosts?: string[]
  /** CAs trusted for HTTPS upstreams (PEM), replacing Node's list. @default Node's roots */
  upstreamCa?: string[]
  /** Who may use the proxy (loopback always may). @default every client */
  allowedClients?: ClientNetworks
  /** Hosts requests may go to. @default every host */
  allowedUpstreams?: UpstreamHosts
  /** Requests per second per client address. @default unlimited */
  requestLimiter?: RequestLimiter
  /** Paces a content streamed from the origin without caching it. @default unlimited */
  originPace?: Pace
  /** Time a client has to send a whole request head; then 408. @default 60000 */
  headersTimeoutMs?: number
}

/**
 * The front door on :65001: its lifecycle, admission and the choice of route (`routes/`).
 * GETs that a rule matches are served from tasks (cache and swarm), Hub resolves in mirror
 * mode from the task of the file's sha256; everything else is relayed to the origin untouched;
 * CONNECT is tunnelled.
 */
export class ProxyServer {
  private readonly components: ProxyServerComponents
  private readonly init: ProxyServerInit
  private readonly log: Logger
  private readonly rules: ProxyRules
  private readonly server: Server
  private readonly passthroughDispatcher: Dispatcher
  private readonly interceptor?: TlsInterceptor
  private readonly sockets = new Set<Socket | Duplex>()
  private readonly lifetime = new AbortController()
  private readonly throughTask: ThroughTaskRoute
  private readonly hubMirror: HubMirrorRoute
  private readonly passthrough: PassthroughRoute
  private readonly hubApi: HubApiRoute
  private readonly connect: ConnectRoute

  constructor (components: ProxyServerComponents, init: ProxyServerInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('proxy')
    this.rules = new ProxyRules(init.rules)
    this.passthroughDispatcher = new Agent({ connect: { timeout: init.connectTimeoutMs, ca: init.upstreamCa } })
    if ((init.interceptHosts ?? []).length > 0) {
      if (components.issuer === undefined) throw new Error('interceptHosts needs an issuer')
      this.interceptor = new TlsInterceptor({
        issuer: components.issuer,
        logger: components.logger,
        handle: (request, response) => { void this.handle(request, response) },
        rejectMalformed
      }, { hosts: init.interceptHosts ?? [], maxHeaderBytes: init.maxHeaderBytes ?? 16384 })
    }
    const dispatcher = this.passthroughDispatcher
    this.throughTask = new ThroughTaskRoute({
      tasks: components.tasks,
      access: new AccessCheck({ origin: components.origin }),
      dispatcher,
      logger: components.logger,
      metrics: components.metrics
    }, { filteredQueryParams: init.filteredQueryParams, originPace: init.originPace })
    this.hubMirror = new HubMirrorRoute({ dispatcher, throughTask: this.throughTask })
    this.passthrough = new PassthroughRoute({ dispatcher, tasks: components.tasks })
    this.hubApi = new HubApiRoute({ passthrough: this.passthrough, logger: components.logger })
    this.connect = new ConnectRoute({
      logger: components.logger,
      admit: request => {
        if (!isHttp1(request)) throw new HttpVersionError(request.httpVersion)
        this.admit(request)
      },
      isSelf: (host, port) => isOwnAddress(host, port, this.address),
      interceptor: this.interceptor,
      metrics: components.metrics
    }, { connectTimeoutMs: init.connectTimeoutMs, allowedUpstreams: init.allowedUpstreams })
    // requestTimeout 0 keeps long uploads alive, but it also turns Node's head timeout off:
    // without one, a client that never finishes its head holds a socket forever (slowloris).
    const headersTimeout = init.headersTimeoutMs ?? 60_000
    this.server = createServer({
      maxHeaderSize: init.maxHeaderBytes ?? 16384,
      requestTimeout: 0,
      headersTimeout,
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(headersTimeout / 4)))
    }, (request, response) => {
      void this.handle(request, response)
    })
    this.server.on('connect', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.track(socket)
      this.connect.serve(request, socket, head)
    })
    this.server.on('connection', (socket: Socket) => { this.track(socket) })
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      // A socket closed between requests is no request at all.
      if (socket.writable && error.code !== 'ECONNRESET') components.metrics?.proxyRequest('rejected')
      rejectMalformed(error, socket)
    })
  }

  async start (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.init.port, this.init.host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
  }

  /** The address really bound (the port is chosen by the system when configured as 0). */
  get address (): { host: string, port: number } {
    const address = this.server.address() as AddressInfo
    return { host: address.address, port: address.port }
  }

  async stop (): Promise<void> {
    this.lifetime.abort()
    const closed = new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
    for (const socket of this.sockets) socket.destroy()
    this.interceptor?.close()
    await closed
    await this.passthroughDispatcher.destroy()
  }

  private async handle (request: IncomingMessage, response: ServerResponse): Promise<void> {
    const cancel = new AbortController()
    const onClose = (): void => { if (!response.writableFinished) cancel.abort() }
    response.once('close', onClose)
    const signal = AbortSignal.any([cancel.signal, this.lifetime.signal])
    const outcome: Outcome = {}
    try {
      // Node's parser hands over the head of a request whose body length cannot be known
      // (RFC 9112 §6.3) and only then fails it: its clientError answer (400) is the only one.
      if (hasUnframeableBody(request)) return
      if (!isHttp1(request)) throw new HttpVersionError(request.httpVersion)
      // RFC 9112 §3.2: two Host lines make the request ambiguous, so it must be refused.
      if ((request.headersDistinct.host?.length ?? 0) > 1) throw new BadRequestError('more than one Host header')
      this.admit(request)
      const target = resolveTarget(request, { registry: this.init.registry })
      if (this.isSelf(target)) throw new BadRequestError(`request target ${target.host} is this proxy: the request would loop`)
      if (this.init.allowedUpstreams !== undefined && !this.init.allowedUpstreams.allowsUrl(target)) throw new UpstreamNotAllowedError(target.hostname)
      const route = { request, response, target, signal, outcome }
      const hubApi = hubApiCall(request.method ?? '', target.pathname)
      if (isHubResolve(request, target)) await this.hubMirror.serveResolve(route)
      // Before the rules: a listing is never content to cache (`/repos/` matches a repo named so).
      else if (hubApi !== undefined) await this.hubApi.serve(route, hubApi)
      else if (request.method === 'GET' && this.rules.matches(target)) await this.throughTask.serve(route)
      else await this.passthrough.serve(route)
    } catch (error) {
      if (signal.aborted) {
        // A client that went away keeps what its request had become.
        response.destroy()
        return
      }
      const failure = httpFailureOf(error)
      outcome.result = failure.type === 'proxy' && failure.status < 500 ? 'rejected' : 'error'
      if (!(error instanceof DamselflyError) || error instanceof AbortedError) {
        this.log.warn('request failed', { method: request.method, error })
      }
      sendError(response, error)
    } finally {
      response.off('close', onClose)
      this.components.metrics?.proxyRequest(outcome.result ?? 'error')
    }
  }

  /** Not an open relay, not a free-for-all: the client's network and request rate. */
  private admit (request: IncomingMessage): void {
    const address = request.socket.remoteAddress ?? 'unknown'
    const { allowedClients, requestLimiter } = this.init
    if (allowedClients !== undefined && !allowedClients.allows(address)) throw new ClientNotAllowedError(address)
    const waitMs = requestLimiter?.admit(address) ?? 0
    if (waitMs > 0) throw new LimitReachedError('ERR_RATE_LIMITED', `client ${address} sends more requests than the node allows`, waitMs / 1000)
  }

  private isSelf (target: URL): boolean {
    const port = Number(target.port === '' ? (target.protocol === 'https:' ? 443 : 80) : target.port)
    return isOwnAddress(target.hostname, port, this.address)
  }

  private track (socket: Socket | Duplex): void {
    this.sockets.add(socket)
    socket.once('close', () => { this.sockets.delete(socket) })
  }
}

/** The proxy speaks HTTP/1.0 and 1.1; Node's parser also hands over HTTP/0.9 and HTTP/2.0 lines. */
function isHttp1 (request: IncomingMessage): boolean {
  return request.httpVersion === '1.1' || request.httpVersion === '1.0'
}

/** A request Transfer-Encoding whose last coding is not chunked: the body has no knowable end. */
function hasUnframeableBody (request: IncomingMessage): boolean {
  const codings = request.headers['transfer-encoding']
  if (codings === undefined) return false
  return codings.split(',').pop()?.trim().toLowerCase() !== 'chunked'
}

/** Requests Node's parser refuses never reach a handler: answer them here, then close. */
function rejectMalformed (error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const [status, reason, code] = error.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'Request Header Fields Too Large', 'ERR_BAD_REQUEST']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'ERR_BAD_REQUEST']
      // HTTP/1.2, HTTP/3.0…: a version the parser does not know.
      : error.code === 'HPE_INVALID_VERSION' ? [505, 'HTTP Version Not Supported', 'ERR_HTTP_VERSION'] : [400, 'Bad Request', 'ERR_BAD_REQUEST']
  const body = `${reason}: ${error.code ?? 'malformed request'}\n`
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${errorTypeHeader}: proxy\r\n${errorCodeHeader}: ${code}\r\nconnection: close\r\n\r\n${body}`)
  lingerThenClose(socket)
}

/**
 * Reads and drops what a refused client is still sending for a moment before closing: closing
 * with unread bytes makes the kernel send a reset, which can destroy the answer (a 431 for a
 * 1 MB head) before the client reads it. nginx's lingering_close does the same.
 */
function lingerThenClose (socket: Duplex): void {
  socket.on('data', () => {})
  socket.resume()
  setTimeout(() => { socket.destroy() }, 2000).unref()
}
