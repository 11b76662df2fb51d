import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { Agent, type Dispatcher } from 'undici'
import { AbortedError, BadRequestError, ClientNotAllowedError, DamselflyError, LimitReachedError, NotCacheableError, UpstreamNotAllowedError } from '../errors.js'
import type { ClientNetworks, UpstreamHosts } from '../limits/access-list.js'
import type { RequestLimiter } from '../limits/request-limiter.js'
import type { Pace } from '../limits/token-bucket.js'
import type { Logger } from '../logging/logger.js'
import type { LeafIssuer } from '../tls/leaf-issuer.js'
import type { Metrics, ProxyResult } from '../metrics/metrics.js'
import { firstHeader, originRequestHeaders, withoutCredentials } from '../origin/http-headers.js'
import type { OriginClient } from '../origin/origin-client.js'
import type { TaskManager } from '../task/task-manager.js'
import { taskKeyFor, type TaskKey } from '../task/task-key.js'
import { AccessCheck, hasCredentials } from './access-check.js'
import { tunnel } from './connect-tunnel.js'
import { errorCodeHeader, errorTypeHeader, httpFailureOf, sendError } from './error-response.js'
import { isHubResolve, lfsHeadHeaders, lfsTaskKey, linkedOid, resolveOnHub } from './hub-resolve.js'
import { forwardGet, passThrough, relay } from './passthrough.js'
import { parseRangeHeader, type RangeSpec } from './range.js'
import { resolveTarget } from './resolve-target.js'
import { ProxyRules } from './rules.js'
import { serveTask } from './serve-task.js'
import { TlsInterceptor } from './tls-intercept.js'
import type { Task } from '../task/task.js'

export interface ProxyServerComponents {
  tasks: TaskManager
  logger: Logger
  /** Makes certificates for intercepted hosts; needed when `interceptHosts` is not empty. */
  issuer?: LeafIssuer
  /** For access checks on private tasks. */
  origin: Pick<OriginClient, 'probe'>
  metrics?: Pick<Metrics, 'proxyRequest' | 'bytes' | 'sentToClient'>
}

/** What a request has become so far; counted once when it ends. */
interface Outcome {
  result?: ProxyResult
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
 * The front door on :65001. GETs that a rule matches are served from tasks (cache and
 * swarm); everything else is relayed to the origin untouched; CONNECT is tunnelled.
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
  private readonly access: AccessCheck

  constructor (components: ProxyServerComponents, init: ProxyServerInit) {
    this.components = components
    this.access = new AccessCheck({ origin: components.origin })
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
      // A refused client that resets its socket must not become an uncaught error.
      socket.on('error', () => { socket.destroy() })
      try {
        this.admit(request)
        const host = /^\[?([^\]]*?)\]?(?::\d+)?$/.exec(request.url ?? '')?.[1] ?? ''
        if (init.allowedUpstreams !== undefined && !init.allowedUpstreams.allows(host)) throw new UpstreamNotAllowedError(host)
      } catch (error) {
        components.metrics?.proxyRequest('rejected')
        refuseTunnel(socket, error as DamselflyError)
        return
      }
      components.metrics?.proxyRequest('passthrough')
      tunnel(request, socket, head, {
        connectTimeoutMs: init.connectTimeoutMs,
        onError: (error, authority) => { this.log.debug('tunnel failed', { authority, error }) },
        interceptor: this.interceptor
      })
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
      // RFC 9112 §3.2: two Host lines make the request ambiguous, so it must be refused.
      if ((request.headersDistinct.host?.length ?? 0) > 1) throw new BadRequestError('more than one Host header')
      this.admit(request)
      const target = resolveTarget(request, { registry: this.init.registry })
      if (this.isSelf(target)) throw new BadRequestError(`request target ${target.host} is this proxy: the request would loop`)
      if (this.init.allowedUpstreams !== undefined && !this.init.allowedUpstreams.allowsUrl(target)) throw new UpstreamNotAllowedError(target.hostname)
      if (isHubResolve(request, target)) {
        outcome.result = 'passthrough'
        await this.serveHubResolve(request, response, target, signal, outcome)
      } else if (request.method === 'GET' && this.rules.matches(target)) {
        await this.serveThroughTask(request, response, target, signal, outcome)
      } else {
        outcome.result = 'passthrough'
        await passThrough(request, response, target, this.passthroughDispatcher, signal, upstream => { this.notePrivateResolve(request, upstream) })
      }
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

  /** Mirror mode: the Hub's LFS redirect is followed here and the bytes served from the task. */
  private async serveHubResolve (request: IncomingMessage, response: ServerResponse, target: URL, signal: AbortSignal, outcome: Outcome): Promise<void> {
    // Checked before any upstream traffic: a malformed Range is the client's mistake alone.
    const range = parseRangeHeader(firstHeader(request.headers.range))
    const resolution = await resolveOnHub(request, target, this.passthroughDispatcher, signal)
    if (resolution.kind === 'other') {
      await relay(resolution.upstream, response, signal)
      return
    }
    if (request.method === 'HEAD') {
      response.writeHead(200, lfsHeadHeaders(resolution))
      response.end()
      return
    }
    await this.serveThroughTask(request, response, new URL(resolution.location), signal, outcome, {
      key: resolution.key,
      extraHeaders: resolution.headers,
      range,
      // The client's Hub token stays with the Hub: the CDN URL is signed.
      sourceHeaders: withoutCredentials(originRequestHeaders(request.headers)),
      // The Hub just accepted (or did not need) this client's credentials for this file.
      accessChecked: true,
      private: hasCredentials(request.headers)
    })
  }

  private async serveThroughTask (request: IncomingMessage, response: ServerResponse, target: URL, signal: AbortSignal, outcome: Outcome, known: ThroughTask = {}): Promise<void> {
    const range = 'range' in known ? known.range : parseRangeHeader(firstHeader(request.headers.range))
    const key = known.key ?? taskKeyFor(target, {
      filteredQueryParams: this.init.filteredQueryParams,
      tag: firstHeader(request.headers['x-dragonfly-tag']),
      application: firstHeader(request.headers['x-dragonfly-application'])
    })
    const source = { url: target.href, headers: known.sourceHeaders ?? originRequestHeaders(request.headers) }
    const taskRequest = { key, source, private: known.private ?? hasCredentials(source.headers) }
    // A private task is checked before this client's URL can join its download, and again
    // if the task appeared meanwhile (the check is cached, so that costs nothing twice).
    const checkAccess = async (candidate: Task | undefined): Promise<void> => {
      if (candidate !== undefined && known.accessChecked !== true) await this.access.check(candidate, source, signal)
    }
    const before = this.components.tasks.get(key.id)
    outcome.result = before?.status === 'complete' ? 'hit' : (before?.bitmap.count ?? 0) > 0 ? 'partial' : 'miss'
    await checkAccess(before)
    let acquired
    try {
      acquired = await this.components.tasks.acquire(taskRequest, signal)
    } catch (error) {
      if (!(error instanceof NotCacheableError)) throw error
      // Larger than the cache may hold: the client still gets its bytes, straight from the origin.
      this.log.info('streaming without caching', { reason: error.message })
      const clientRange = firstHeader(request.headers.range)
      await forwardGet(target, clientRange === undefined ? source.headers : { ...source.headers, range: clientRange }, this.passthroughDispatcher, response, signal, this.init.originPace)
      return
    }
    const { task, hit } = acquired
    if (hit) outcome.result = 'hit'
    await checkAccess(task)
    // If-Range: a client resuming a file that has since changed must get it whole (RFC 9110 §13.1.5).
    const ifRange = firstHeader(request.headers['if-range'])
    const rangeStillValid = ifRange === undefined || ifRange === task.etag || ifRange === task.headers['last-modified']
    const release = task.retain()
    try {
      await serveTask(response, {
        task,
        bytes: this.components.tasks,
        range: rangeStillValid ? range : undefined,
        hit,
        extraHeaders: known.extraHeaders,
        repair: async (index) => await this.components.tasks.repair(taskRequest, task, index, signal),
        signal,
        metrics: this.components.metrics
      })
    } finally {
      release()
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

  /**
   * A Hub answer relayed to a client that sent credentials, naming an LFS file (a resolve's
   * redirect or HEAD): the file may be private, so its task is guarded like one fetched with
   * the token, although the client will fetch the signed CDN URL without it.
   */
  private notePrivateResolve (request: IncomingMessage, upstream: Dispatcher.ResponseData): void {
    if (!hasCredentials(request.headers)) return
    const oid = linkedOid(upstream.headers)
    if (oid !== undefined) this.components.tasks.notePrivate(lfsTaskKey(oid).id)
  }

  private isSelf (target: URL): boolean {
    const port = Number(target.port === '' ? (target.protocol === 'https:' ? 443 : 80) : target.port)
    if (port !== this.address.port) return false
    const host = target.hostname.replace(/^\[|\]$/g, '')
    return ['localhost', '127.0.0.1', '::1', '0.0.0.0', '::', this.address.host].includes(host)
  }

  private track (socket: Socket | Duplex): void {
    this.sockets.add(socket)
    socket.once('close', () => { this.sockets.delete(socket) })
  }
}

/** A CONNECT the node refuses (client or host not allowed, rate exceeded), answered on the raw socket. */
function refuseTunnel (socket: Duplex, error: DamselflyError): void {
  const { status, type } = httpFailureOf(error)
  const reason = status === 429 ? 'Too Many Requests' : status === 403 ? 'Forbidden' : 'Bad Request'
  const retryAfter = error instanceof LimitReachedError ? `retry-after: ${error.retryAfterSeconds}\r\n` : ''
  const body = `${error.message}\n`
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${errorTypeHeader}: ${type}\r\n${errorCodeHeader}: ${error.code}\r\n${retryAfter}connection: close\r\n\r\n${body}`)
}

/** What a caller already knows about a request it sends through a task. */
interface ThroughTask {
  key?: TaskKey
  extraHeaders?: Record<string, string>
  range?: RangeSpec
  sourceHeaders?: Record<string, string>
  /** The origin already accepted this client's credentials for this content. */
  accessChecked?: boolean
  /** The request carried credentials, even if they are not sent on to the task's source. */
  private?: boolean
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
  const [status, reason] = error.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'Request Header Fields Too Large']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : [400, 'Bad Request']
  const body = `${reason}: ${error.code ?? 'malformed request'}\n`
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${errorTypeHeader}: proxy\r\n${errorCodeHeader}: ERR_BAD_REQUEST\r\nconnection: close\r\n\r\n${body}`)
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
