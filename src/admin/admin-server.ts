import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Preheater } from '../preheat/preheater.js'
import { BearerGuard } from './bearer-guard.js'
import { sendAdminError } from './error-response.js'
import { handlePreheatRoute } from './preheat-routes.js'
import { statusPageCsp, statusPageHtml } from './status-page.js'

export interface AdminServerComponents {
  /** Facts about the node for /api/status. */
  status: () => unknown
  /** Runs `damselfly preheat` jobs (/api/preheat). */
  preheater?: Preheater
  /** The Prometheus exposition for /metrics. */
  metrics?: (names: readonly string[]) => Promise<{ contentType: string, text: string }>
}

export interface AdminServerInit {
  host: string
  port: number
  /**
   * The admin token (`--admin-token-file`). With it, every request that may change something
   * needs `Authorization: Bearer <token>`, from any address.
   */
  token?: string
}

/**
 * The operator's port (:65002): /healthy and /readyz, /metrics (Prometheus), /api/status
 * (JSON) and /status, a live page drawn from /api/status, and /api/preheat.
 *
 * The guard is by method, before any route: GET and HEAD only read, every other method may
 * change something and needs the token when one is configured. A new endpoint is therefore
 * guarded unless it is a GET, and a GET must never change anything.
 */
export class AdminServer {
  private readonly server: Server
  private readonly init: AdminServerInit

  constructor (components: AdminServerComponents, init: AdminServerInit) {
    this.init = init
    const guard = init.token === undefined ? undefined : new BearerGuard(init.token)
    this.server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0] ?? '/'
      if (guard !== undefined && !readsOnly(request.method)) {
        const refusal = guard.check(request.headers.authorization)
        if (refusal !== undefined) return sendAdminError(response, refusal)
      }
      if (handlePreheatRoute(components.preheater, request, response, path)) return
      if (!readsOnly(request.method)) return send(response, 405, 'text/plain', 'method not allowed\n')
      if (path === '/healthy' || path === '/readyz') return send(response, 200, 'text/plain', 'ok\n')
      if (path === '/api/status') return send(response, 200, 'application/json', JSON.stringify(components.status()) + '\n', { 'cache-control': 'no-store' })
      if (path === '/status') return send(response, 200, 'text/html; charset=utf-8', statusPageHtml, { 'content-security-policy': statusPageCsp, 'cache-control': 'no-store' })
      if (path === '/') {
        response.writeHead(302, { location: '/status', 'content-length': 0 })
        return response.end()
      }
      if (path === '/metrics' && components.metrics !== undefined) {
        // `?name=a&name=b`: only those metrics (cheap to read often); none: all of them.
        const names = new URLSearchParams((request.url ?? '').split('?')[1] ?? '').getAll('name')
        components.metrics(names).then(
          ({ contentType, text }) => { send(response, 200, contentType, text) },
          (error: unknown) => { send(response, 500, 'text/plain', `cannot collect metrics: ${error instanceof Error ? error.message : String(error)}\n`) }
        )
        return
      }
      send(response, 404, 'text/plain', 'not found\n')
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

  get address (): { host: string, port: number } {
    const address = this.server.address() as AddressInfo
    return { host: address.address, port: address.port }
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }
}

/** GET and HEAD: the methods that never change anything here. */
function readsOnly (method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD'
}

function send (response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers })
  response.end(body)
}
