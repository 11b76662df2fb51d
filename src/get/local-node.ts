import { request } from 'node:http'
import type { DamselflyConfig } from '../config/index.js'
import { NodeUnavailableError } from '../errors.js'
import type { Logger } from '../logging/logger.js'

export interface LocalNode {
  /** The proxy URL to send downloads to. */
  url: string
  /** True when this process started the node. */
  started: boolean
  stop: () => Promise<void>
}

export interface LocalNodeInit {
  /** Where a running node is expected, e.g. http://127.0.0.1:65001. */
  url: string
  /** The configuration of the node started here when none answers. */
  config: DamselflyConfig
  logger: Logger
  /** @default 3000 */
  probeTimeoutMs?: number
}

export type ProbeResult = 'damselfly' | 'absent' | 'other'

/**
 * The node a download goes through: the one answering at `url`, or else a node started in this
 * process with `config` (stopped by `stop`).
 */
export async function findOrStartNode (init: LocalNodeInit, signal: AbortSignal): Promise<LocalNode> {
  const probe = await probeNode(init.url, init.probeTimeoutMs ?? 3000, signal)
  if (probe === 'damselfly') return { url: init.url, started: false, stop: async () => {} }
  if (probe === 'other') {
    throw new NodeUnavailableError(`${init.url} answers but is not a Damselfly node; point --node (or DAMSELFLY_NODE) at the node's proxy address`)
  }
  // Loaded only when needed: libp2p takes most of the command's start-up time.
  const { DamselflyNode } = await import('../node.js')
  const node = new DamselflyNode({ logger: init.logger }, init.config)
  let info
  try {
    info = await node.start()
  } catch (error) {
    await node.stop().catch(() => {})
    throw new NodeUnavailableError(`no node answers at ${init.url} and none could be started here: ${(error as Error).message}`, { cause: error })
  }
  return { url: `http://${info.proxy}`, started: true, stop: async () => { await node.stop() } }
}

/**
 * Asks the proxy for itself in absolute form (`GET http://<node>/`): a Damselfly node refuses
 * that at once, without any upstream traffic, as a request that would loop, and marks the
 * answer with its X-Damselfly-Error-Code header. Nothing listening means no node.
 */
export async function probeNode (url: string, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  const target = new URL(url)
  return await new Promise<ProbeResult>((resolve, reject) => {
    const probe = request({
      host: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port === '' ? 80 : Number(target.port),
      method: 'GET',
      path: `http://${target.host}/`,
      headers: { host: target.host, connection: 'close' },
      timeout: timeoutMs,
      signal
    }, (response) => {
      response.resume()
      resolve(response.headers['x-damselfly-error-code'] !== undefined ? 'damselfly' : 'other')
    })
    probe.on('timeout', () => { probe.destroy(new Error(`no answer within ${timeoutMs} ms`)) })
    probe.on('error', (error: NodeJS.ErrnoException) => {
      if (signal.aborted) reject(error)
      else if (error.code === 'ECONNREFUSED' || error.code === 'EADDRNOTAVAIL') resolve('absent')
      else reject(new NodeUnavailableError(`the node at ${url} does not answer: ${error.message}`, { cause: error }))
    })
    probe.end()
  })
}
