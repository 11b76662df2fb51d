import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Preheater } from '../preheat/preheater.js'
import { handlePreheatRoute } from './preheat-routes.js'

export interface AdminServerComponents {
  /** Facts about the node for /api/status. */
  status: () => unknown
  /** Runs `damselfly preheat` jobs (/api/preheat). */
  preheater?: Preheater
}

export interface AdminServerInit {
  host: string
  port: number
}

/** The operator's port (:65002): health and status now; metrics and the status page later. */
export class AdminServer {
  private readonly server: Server
  private readonly init: AdminServerInit

  constructor (components: AdminServerComponents, init: AdminServerInit) {
    this.init = init
    this.server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0] ?? '/'
      if (handlePreheatRoute(components.preheater, request, response, path)) return
      if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain', 'method not allowed\n')
      if (path === '/healthy' || path === '/readyz') return send(response, 200, 'text/plain', 'ok\n')
      if (path === '/api/status') return send(response, 200, 'application/json', JSON.stringify(components.status()) + '\n')
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

function send (response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  response.end(body)
}
