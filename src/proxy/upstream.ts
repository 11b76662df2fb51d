import type { ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import type { Dispatcher } from 'undici'
import { UpstreamUnreachableError, redactUrl } from '../errors.js'
import { certificateFailure } from '../origin/certificate-failure.js'
import { clientResponseHeaders } from '../origin/http-headers.js'
import type { Pace } from '../limits/token-bucket.js'

/**
 * A GET straight from the origin, not cached (a content larger than the cache quota): the
 * client's headers as given, the answer relayed, paced like any other origin traffic.
 */
export async function forwardGet (target: URL, headers: Record<string, string>, dispatcher: Dispatcher, response: ServerResponse, signal: AbortSignal, pace?: Pace): Promise<void> {
  const upstream = await requestUpstream(target, { method: 'GET', headers: { ...headers, host: target.host } }, dispatcher, signal)
  await relay(upstream, response, signal, pace)
}

/** One request to the origin; failing to reach it is an UpstreamUnreachableError (or a certificate's). */
export async function requestUpstream (target: URL, options: Pick<Dispatcher.RequestOptions, 'method' | 'headers' | 'body'>, dispatcher: Dispatcher, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
  try {
    return await dispatcher.request({ origin: target.origin, path: target.pathname + target.search, ...options, signal })
  } catch (error) {
    if (signal.aborted) throw error
    throw certificateFailure(error, target.href) ?? new UpstreamUnreachableError(`cannot reach ${redactUrl(target.href)}: ${(error as Error).message}`, { cause: error })
  }
}

/** Sends an origin's answer on to the client as it is (less Xet hints), streaming the body. */
export async function relay (upstream: Dispatcher.ResponseData, response: ServerResponse, signal: AbortSignal, pace?: Pace): Promise<void> {
  response.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers as Record<string, string | string[]>))
  if (pace === undefined) {
    await pipeline(upstream.body, response, { signal })
    return
  }
  await pipeline(upstream.body, async function * (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      await pace(chunk.length, signal)
      yield chunk
    }
  }, response, { signal })
}
