import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import type { Dispatcher } from 'undici'
import { UpstreamUnreachableError, redactUrl } from '../errors.js'
import { certificateFailure } from '../origin/certificate-failure.js'
import { clientResponseHeaders, upstreamRequestHeaders } from '../origin/http-headers.js'

/**
 * Forwards a request the swarm has no business with (HEAD, POST, API calls, unmatched GETs)
 * to the origin as it is, streaming both bodies; redirects go back to the client to follow.
 */
export async function passThrough (request: IncomingMessage, response: ServerResponse, target: URL, dispatcher: Dispatcher, signal: AbortSignal): Promise<void> {
  const method = request.method ?? 'GET'
  const hasBody = request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined
  const headers = upstreamRequestHeaders(request.headers)
  headers.host = target.host
  let upstream: Dispatcher.ResponseData
  try {
    upstream = await dispatcher.request({
      origin: target.origin,
      path: target.pathname + target.search,
      method: method as Dispatcher.HttpMethod,
      headers,
      body: hasBody ? request : null,
      signal
    })
  } catch (error) {
    if (signal.aborted) throw error
    throw certificateFailure(error, target.href) ?? new UpstreamUnreachableError(`cannot reach ${redactUrl(target.href)}: ${(error as Error).message}`, { cause: error })
  }
  await relay(upstream, response, signal)
}

/** Sends an origin's answer on to the client as it is (less Xet hints), streaming the body. */
export async function relay (upstream: Dispatcher.ResponseData, response: ServerResponse, signal: AbortSignal): Promise<void> {
  response.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers as Record<string, string | string[]>))
  await pipeline(upstream.body, response, { signal })
}
