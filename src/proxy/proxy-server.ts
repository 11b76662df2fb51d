import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { Agent, type Dispatcher } from 'undici'
import { AbortedError, BadRequestError, DamselflyError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { Metrics, ProxyResult } from '../metrics/metrics.js'
import { firstHeader, originRequestHeaders, withoutCredentials } from '../origin/http-headers.js'
import type { TaskManager } from '../task/task-manager.js'
import { taskKeyFor, type TaskKey } from '../task/task-key.js'
import { tunnel } from './connect-tunnel.js'
import { errorCodeHeader, errorTypeHeader, httpFailureOf, sendError } from './error-response.js'
import { isHubResolve, resolveOnHub } from './hub-resolve.js'
import { passThrough, relay } from './passthrough.js'
import { parseRangeHeader, type RangeSpec } from './range.js'
import { resolveTarget } from './resolve-target.js'
import { ProxyRules } from './rules.js'
import { serveTask } from './serve-task.js'

export interface ProxyServerComponents {
  tasks: TaskManager
  logger: Logger
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
  private readonly sockets = new Set<Socket | Duplex>()
  private readonly lifetime = new AbortController()

  constructor (components: ProxyServerComponents, init: ProxyServerInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('proxy')
    this.rules = new ProxyRules(init.rules)
    this.passthroughDispatcher = new Agent({ connect: { timeout: init.connectTimeoutMs } })
    this.server = createServer({ maxHeaderSize: init.maxHeaderBytes ?? 16384, requestTimeout: 0 }, (request, response) => {
      void this.handle(request, response)
    })
    this.server.on('connect', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.track(socket)
      components.metrics?.proxyRequest('passthrough')
      tunnel(request, socket, head, {
        connectTimeoutMs: init.connectTimeoutMs,
        onError: (error, authority) => { this.log.debug('tunnel failed', { authority, error }) }
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
      const target = resolveTarget(request, { registry: this.init.registry })
      if (this.isSelf(target)) throw new BadRequestError(`request target ${target.host} is this proxy: the request would loop`)
      if (isHubResolve(request, target)) {
        outcome.result = 'passthrough'
        await this.serveHubResolve(request, response, target, signal, outcome)
      } else if (request.method === 'GET' && this.rules.matches(target)) {
        await this.serveThroughTask(request, response, target, signal, outcome)
      } else {
        outcome.result = 'passthrough'
        await passThrough(request, response, target, this.passthroughDispatcher, signal)
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
    await this.serveThroughTask(request, response, new URL(resolution.location), signal, outcome, {
      key: resolution.key,
      extraHeaders: resolution.headers,
      range,
      // The client's Hub token stays with the Hub: the CDN URL is signed.
      sourceHeaders: withoutCredentials(originRequestHeaders(request.headers))
    })
  }

  private async serveThroughTask (request: IncomingMessage, response: ServerResponse, target: URL, signal: AbortSignal, outcome: Outcome, known: { key?: TaskKey, extraHeaders?: Record<string, string>, range?: RangeSpec, sourceHeaders?: Record<string, string> } = {}): Promise<void> {
    const range = 'range' in known ? known.range : parseRangeHeader(firstHeader(request.headers.range))
    const key = known.key ?? taskKeyFor(target, {
      filteredQueryParams: this.init.filteredQueryParams,
      tag: firstHeader(request.headers['x-dragonfly-tag']),
      application: firstHeader(request.headers['x-dragonfly-application'])
    })
    const before = this.components.tasks.get(key.id)
    outcome.result = before?.status === 'complete' ? 'hit' : (before?.bitmap.count ?? 0) > 0 ? 'partial' : 'miss'
    const { task, hit } = await this.components.tasks.acquire({
      key,
      source: { url: target.href, headers: known.sourceHeaders ?? originRequestHeaders(request.headers) }
    }, signal)
    if (hit) outcome.result = 'hit'
    // If-Range: a client resuming a file that has since changed must get it whole (RFC 9110 §13.1.5).
    const ifRange = firstHeader(request.headers['if-range'])
    const rangeStillValid = ifRange === undefined || ifRange === task.etag || ifRange === task.headers['last-modified']
    await serveTask(response, { task, range: rangeStillValid ? range : undefined, hit, extraHeaders: known.extraHeaders, signal, metrics: this.components.metrics })
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
}
