import type { ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'
import type { Dispatcher } from 'undici'
import { xetSteeringFields, type HubApiCall } from '../../hub/hub-api.js'
import { JsonFieldFilter } from '../../hub/json-field-filter.js'
import type { Logger } from '../../logging/logger.js'
import { clientResponseHeaders, firstHeader } from '../../origin/http-headers.js'
import type { PassthroughRoute } from './passthrough.js'
import type { RouteRequest } from './route.js'

export interface HubApiComponents {
  passthrough: Pick<PassthroughRoute, 'serve'>
  logger: Logger
}

export interface HubApiInit {
  /** Repos whose Xet token request has been logged, remembered at most. @default 1024 */
  maxLoggedRepos?: number
}

/**
 * Hub API calls relayed in mirror mode and on intercepted HTTPS: listings lose every field that
 * steers a client to Xet (`xetHash`, `xetEnabled`), streamed through a filter that leaves the
 * rest of the document byte for byte; a Xet token request is relayed, and logged once per repo,
 * because the client asking already goes around the node.
 */
export class HubApiRoute {
  private readonly components: HubApiComponents
  private readonly log: Logger
  private readonly loggedRepos = new Set<string>()
  private readonly maxLoggedRepos: number

  constructor (components: HubApiComponents, init: HubApiInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('proxy:hub')
    this.maxLoggedRepos = init.maxLoggedRepos ?? 1024
  }

  async serve (route: RouteRequest, call: HubApiCall): Promise<void> {
    if (call.kind === 'xet-read-token') {
      this.noteXetBypass(call.repo)
      await this.components.passthrough.serve(route)
      return
    }
    await this.components.passthrough.serve(route, {
      // Asked unencoded, so that the filter reads JSON; an encoded answer is decoded anyway.
      headers: { 'accept-encoding': 'identity' },
      answer: async (upstream, response, signal) => {
        if (!isJson(upstream)) return false
        const clientOrigin = mirrorOrigin(route)
        if (clientOrigin !== undefined) upstream.headers.link = pagesAt(upstream.headers.link, route.target.origin, clientOrigin)
        await relayWithoutXetFields(upstream, response, signal)
        return true
      }
    })
  }

  private noteXetBypass (repo: string): void {
    if (this.loggedRepos.has(repo)) return
    if (this.loggedRepos.size >= this.maxLoggedRepos) this.loggedRepos.clear()
    this.loggedRepos.add(repo)
    this.log.info('a client asked for a Xet read token: it downloads this repo from Xet, around the node (a listing cached before it used the node?); set HF_HUB_DISABLE_XET=1 for it or clear its trees/ cache (docs/huggingface.md)', { repo })
  }
}

/** The node's own origin as a mirror-mode (origin-form) client addressed it; undefined otherwise. */
function mirrorOrigin ({ request }: RouteRequest): string | undefined {
  const host = firstHeader(request.headers.host)
  return (request.url ?? '').startsWith('/') && host !== undefined ? `http://${host}` : undefined
}

/**
 * The Hub's pagination links (`Link: <https://hub/api/…&cursor=…>; rel="next"`) are absolute:
 * in mirror mode they are pointed back at the node, or the next page would bypass it (and keep
 * its Xet fields).
 */
function pagesAt (link: string | string[] | undefined, upstreamOrigin: string, clientOrigin: string): string | string[] | undefined {
  if (link === undefined) return undefined
  const rewrite = (value: string): string => value.replace(/<([^>]*)>/g, (whole, url: string) => {
    try {
      const parsed = new URL(url)
      return parsed.origin === upstreamOrigin ? `<${clientOrigin}${parsed.pathname}${parsed.search}>` : whole
    } catch {
      return whole
    }
  })
  return Array.isArray(link) ? link.map(rewrite) : rewrite(link)
}

function isJson (upstream: Dispatcher.ResponseData): boolean {
  return upstream.statusCode === 200 && /\bjson\b/i.test(firstHeader(upstream.headers['content-type']) ?? '')
}

/**
 * A JSON answer relayed without its Xet fields: the body changes length, so it goes chunked
 * (no Content-Length), decoded if the Hub encoded it anyway.
 */
async function relayWithoutXetFields (upstream: Dispatcher.ResponseData, response: ServerResponse, signal: AbortSignal): Promise<void> {
  const headers = clientResponseHeaders(upstream.headers as Record<string, string | string[]>)
  delete headers['content-length']
  const encoding = (firstHeader(upstream.headers['content-encoding']) ?? 'identity').trim().toLowerCase()
  const decoder = encoding === 'gzip' || encoding === 'x-gzip'
    ? createGunzip()
    : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : undefined
  if (decoder !== undefined) delete headers['content-encoding']
  else if (encoding !== 'identity') {
    // An encoding the node cannot read: relayed as it came, fields and all.
    response.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers as Record<string, string | string[]>))
    await pipeline(upstream.body, response, { signal })
    return
  }
  response.writeHead(upstream.statusCode, headers)
  const filter = new JsonFieldFilter(xetSteeringFields)
  if (decoder === undefined) await pipeline(upstream.body, filter, response, { signal })
  else await pipeline(upstream.body, decoder, filter, response, { signal })
}
