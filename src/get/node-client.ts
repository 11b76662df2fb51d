import { Agent, ProxyAgent, type Dispatcher } from 'undici'
import { DownloadError, redactUrl } from '../errors.js'

export interface NodeClientInit {
  /** The node's proxy, e.g. `http://127.0.0.1:65001`. */
  nodeUrl: string
  /** The Hub token, sent as `Authorization: Bearer` to the node in mirror mode only. */
  token?: string
}

export interface NodeResponse {
  /** The URL that answered, after redirects. */
  url: string
  status: number
  headers: Record<string, string>
  body: Dispatcher.ResponseData['body']
}

const maxRedirects = 5
const redirectStatuses = new Set([301, 302, 303, 307, 308])

/**
 * Every request `damselfly get` makes goes through the node: Hub paths in mirror mode
 * (origin-form, the node forwards to its registry), other URLs with the node as an HTTP proxy
 * (absolute-form for http, CONNECT for https), as `curl --proxy` does.
 */
export class NodeClient {
  readonly nodeUrl: string
  private readonly token?: string
  private readonly mirror: Agent
  private readonly proxy: ProxyAgent

  constructor (init: NodeClientInit) {
    this.nodeUrl = init.nodeUrl.replace(/\/+$/, '')
    if (init.token !== undefined) this.token = init.token
    this.mirror = new Agent({ connections: 8 })
    this.proxy = new ProxyAgent({ uri: this.nodeUrl, proxyTunnel: false })
  }

  /** GET a Hub path (`/owner/repo/resolve/…`, `/api/…`) from the node in mirror mode. */
  async getHubPath (path: string, signal: AbortSignal): Promise<NodeResponse> {
    return await this.get(new URL(this.nodeUrl + path), signal)
  }

  /** GET any http(s) URL through the node as a forward proxy. */
  async getUrl (url: URL, signal: AbortSignal): Promise<NodeResponse> {
    return await this.get(url, signal)
  }

  async close (): Promise<void> {
    await Promise.all([this.mirror.close(), this.proxy.close()])
  }

  /**
   * Follows redirects: those back to the node (a renamed repo's relative redirect) keep the
   * token; any other goes through the node as a proxy, without it.
   */
  private async get (start: URL, signal: AbortSignal): Promise<NodeResponse> {
    let url = start
    for (let hop = 0; ; hop++) {
      const toNode = url.origin === new URL(this.nodeUrl).origin
      const headers: Record<string, string> = { 'accept-encoding': 'identity' }
      if (toNode && this.token !== undefined) headers.authorization = `Bearer ${this.token}`
      let response: Dispatcher.ResponseData
      try {
        response = await (toNode ? this.mirror : this.proxy).request({
          origin: url.origin, path: url.pathname + url.search, method: 'GET', headers, signal
        })
      } catch (error) {
        if (signal.aborted) throw error
        throw new DownloadError(`the node at ${this.nodeUrl} did not answer for ${redactUrl(url.href)}: ${(error as Error).message}`, { cause: error })
      }
      const flat = flattenHeaders(response.headers)
      const location = flat.location
      if (!redirectStatuses.has(response.statusCode) || location === undefined) {
        return { url: url.href, status: response.statusCode, headers: flat, body: response.body }
      }
      response.body.resume()
      if (hop >= maxRedirects) throw new DownloadError(`more than ${maxRedirects} redirects from ${redactUrl(start.href)}`, { status: response.statusCode })
      url = new URL(location, url)
    }
  }
}

function flattenHeaders (headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  }
  return flat
}

/**
 * A refused response as a DownloadError that says why: the status, who failed (the node's
 * X-Dragonfly-Error-Type), the Hub's X-Error-Code / X-Error-Message, or the node's own text.
 */
export async function failureOf (what: string, response: NodeResponse): Promise<DownloadError> {
  const body = await readSome(response.body, 2048)
  const { headers, status } = response
  const errorType = headers['x-dragonfly-error-type']
  const details: string[] = []
  if (errorType !== undefined) details.push(`X-Dragonfly-Error-Type: ${errorType}`)
  if (headers['x-error-code'] !== undefined) details.push(`X-Error-Code: ${headers['x-error-code']}`)
  const message = headers['x-error-message'] ?? bodyMessage(headers['content-type'] ?? '', body)
  if (message !== undefined && message !== '') details.push(message)
  const hint = status === 401 || status === 403 ? ' (a private or gated repo needs a token: set HF_TOKEN or pass --token)' : ''
  return new DownloadError(`${what}: HTTP ${status}${details.length > 0 ? ` (${details.join('; ')})` : ''}${hint}`, {
    status,
    ...(errorType !== undefined ? { errorType } : {})
  })
}

async function readSome (body: NodeResponse['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk)
      size += chunk.length
      if (size >= limit) break
    }
  } catch {
    // An error body that breaks off still has a status to report.
  }
  body.destroy()
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8')
}

/** The Hub's JSON `{"error": …}`, or the first line of a text body (the node's own errors). */
function bodyMessage (contentType: string, body: string): string | undefined {
  if (contentType.includes('json')) {
    try {
      const parsed = JSON.parse(body) as { error?: unknown }
      return typeof parsed.error === 'string' ? firstLine(parsed.error) : undefined
    } catch {
      return undefined
    }
  }
  return contentType.startsWith('text/plain') ? firstLine(body) : undefined
}

function firstLine (text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 200)
}
