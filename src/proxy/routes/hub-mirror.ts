import type { IncomingMessage } from 'node:http'
import type { Dispatcher } from 'undici'
import { resolveHubFile, type HubResolution } from '../../hub/resolve-file.js'
import { firstHeader, originRequestHeaders, upstreamRequestHeaders, withoutCredentials } from '../../origin/http-headers.js'
import { hasCredentials } from '../access-check.js'
import { parseRangeHeader } from '../range.js'
import { relay } from '../upstream.js'
import type { RouteRequest } from './route.js'
import type { ThroughTaskRoute } from './through-task.js'

/** `/{owner}/{repo}/resolve/{rev}/{path}`, also under `/datasets/` and `/spaces/`. */
const resolvePath = /^\/(?:(?:datasets|spaces)\/)?[^/]+\/[^/]+\/resolve\/[^/]+\/./

export interface HubMirrorComponents {
  dispatcher: Dispatcher
  throughTask: Pick<ThroughTaskRoute, 'serve'>
}

/** A mirror-style (HF_ENDPOINT) GET or HEAD of a Hub resolve URL. */
export function isHubResolve (request: IncomingMessage, target: URL): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && (request.url ?? '').startsWith('/') && resolvePath.test(target.pathname)
}

/**
 * Mirror mode (`HF_ENDPOINT` at the node): the Hub's LFS redirect is followed here and the
 * bytes served from the task for the file's sha256, so clients never leave the node.
 */
export class HubMirrorRoute {
  private readonly components: HubMirrorComponents

  constructor (components: HubMirrorComponents) {
    this.components = components
  }

  async serveResolve (route: RouteRequest): Promise<void> {
    const { request, response, target, signal, outcome } = route
    outcome.result = 'passthrough'
    // Checked before any upstream traffic: a malformed Range is the client's mistake alone.
    const range = parseRangeHeader(firstHeader(request.headers.range))
    const resolution = await resolveHubFile(target, upstreamRequestHeaders(request.headers), this.components.dispatcher, signal, request.method === 'HEAD' ? 'HEAD' : 'GET')
    if (resolution.kind === 'other') {
      await relay(resolution.upstream, response, signal)
      return
    }
    if (request.method === 'HEAD') {
      response.writeHead(200, lfsHeadHeaders(resolution))
      response.end()
      return
    }
    await this.components.throughTask.serve({ ...route, target: new URL(resolution.location) }, {
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
}

/**
 * A HEAD of an LFS file answered as the file itself would be (200, its size, the Hub's
 * headers) instead of the Hub's redirect: huggingface_hub downloads from the `Location` of its
 * HEAD when there is one, and a CDN URL there would send the bytes around the node.
 */
export function lfsHeadHeaders (resolution: Extract<HubResolution, { kind: 'lfs' }>): Record<string, string> {
  const size = resolution.headers['x-linked-size']
  return {
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    ...(size === undefined ? {} : { 'content-length': size }),
    ...resolution.headers
  }
}
