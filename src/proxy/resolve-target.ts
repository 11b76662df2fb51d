import type { IncomingMessage } from 'node:http'
import { BadRequestError } from '../errors.js'
import { firstHeader } from '../origin/http-headers.js'

export interface TargetInit {
  /** Mirror upstream for origin-form requests. */
  registry: string
}

/**
 * The upstream URL a request is for: absolute-form (`GET http://host/path`, a forward proxy)
 * as is, origin-form (`GET /path`, a mirror) against `X-Dragonfly-Registry` or the registry.
 */
export function resolveTarget (request: IncomingMessage, init: TargetInit): URL {
  const raw = request.url ?? ''
  if (/^https?:\/\//i.test(raw)) return parseHttpUrl(raw, 'request target')
  if (!raw.startsWith('/')) throw new BadRequestError(`request target ${JSON.stringify(raw.slice(0, 200))} is neither an absolute http(s) URL nor a path`)
  const registryHeader = firstHeader(request.headers['x-dragonfly-registry'])
  const registry = parseHttpUrl(registryHeader ?? init.registry, registryHeader === undefined ? 'registry' : 'X-Dragonfly-Registry')
  const base = registry.href.endsWith('/') ? registry.href.slice(0, -1) : registry.href
  return parseHttpUrl(base + raw, 'request target')
}

function parseHttpUrl (text: string, what: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new BadRequestError(`${what} ${JSON.stringify(text.slice(0, 200))} is not a valid URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadRequestError(`${what} must be http or https, got ${url.protocol}`)
  if (url.hostname === '') throw new BadRequestError(`${what} has no host`)
  // RFC 9110 §4.2.4: userinfo in an http(s) URI is deprecated and a known way to disguise the host.
  if (url.username !== '' || url.password !== '') throw new BadRequestError(`${what} must not carry userinfo`)
  return url
}
