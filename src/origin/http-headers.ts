import type { IncomingHttpHeaders } from 'node:http'

/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus proxy-only ones.
 * `expect`: Node has already answered the client's 100-continue, and undici refuses to send it.
 */
const hopByHop = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect'
])

export type HeaderRecord = Record<string, string | string[]>

/** A copy without hop-by-hop headers, nor those named in `Connection`, nor `x-dragonfly-*`. */
export function endToEndHeaders (headers: IncomingHttpHeaders | HeaderRecord): HeaderRecord {
  const named = new Set(
    String(headers.connection ?? '').split(',').map(name => name.trim().toLowerCase()).filter(Boolean)
  )
  const result: HeaderRecord = {}
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (value === undefined || hopByHop.has(lower) || named.has(lower) || lower.startsWith('x-dragonfly-')) continue
    result[lower] = value
  }
  return result
}

/**
 * An upstream answer's headers as a client of the node should see them: end to end only, and
 * without the Hub's Xet hints (`X-Xet-*`, a `Link` with rel="xet-auth"), so Hub clients take
 * the plain HTTP path that the node can cache instead of the Xet protocol that bypasses it.
 */
export function clientResponseHeaders (headers: IncomingHttpHeaders | HeaderRecord): HeaderRecord {
  const result = endToEndHeaders(headers)
  for (const name of Object.keys(result)) {
    if (name.startsWith('x-xet-')) delete result[name]
  }
  const link = result.link
  if (link !== undefined) {
    const kept = (Array.isArray(link) ? link : [link])
      .flatMap(value => value.split(/,(?=\s*<)/))
      .filter(entry => !/;\s*rel="?xet-/i.test(entry))
      .map(entry => entry.trim())
    if (kept.length === 0) delete result.link
    else result.link = kept.join(', ')
  }
  return result
}

/**
 * A client's request headers as the node forwards them upstream: end to end only, and without
 * asking for the Hub's Xet file info (`Accept: application/vnd.xet-fileinfo+json`), which the
 * Hub answers with Xet directions instead of the redirect to bytes the node can cache.
 */
export function upstreamRequestHeaders (headers: IncomingHttpHeaders): HeaderRecord {
  const result = endToEndHeaders(headers)
  const accept = result.accept
  if (accept !== undefined) {
    const kept = (Array.isArray(accept) ? accept.join(',') : accept)
      .split(',')
      .filter(type => !/^\s*application\/vnd\.xet-/i.test(type))
      .map(type => type.trim())
    if (kept.length === 0) delete result.accept
    else result.accept = kept.join(', ')
  }
  return result
}

/** Headers the node sends the origin on a client's behalf when it fetches pieces. */
export function originRequestHeaders (clientHeaders: IncomingHttpHeaders): Record<string, string> {
  const result: Record<string, string> = {}
  for (const [name, value] of Object.entries(endToEndHeaders(clientHeaders))) {
    // The node asks for its own ranges, unencoded, unconditionally.
    if (name === 'range' || name === 'accept-encoding' || name.startsWith('if-') || name === 'content-length') continue
    result[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return result
}

export function firstHeader (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** Headers without credentials: what may follow a cross-origin redirect, or go to a peer. */
export function withoutCredentials (headers: Record<string, string>): Record<string, string> {
  const { authorization: _authorization, cookie: _cookie, 'proxy-authorization': _proxy, ...rest } = headers
  return rest
}
