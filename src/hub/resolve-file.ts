import type { Dispatcher } from 'undici'
import { UpstreamUnreachableError, redactUrl } from '../errors.js'
import { certificateFailure } from '../origin/certificate-failure.js'
import { firstHeader, type HeaderRecord } from '../origin/http-headers.js'
import { lfsTaskKey, type TaskKey } from '../task/task-key.js'

/** The Hub's headers a client reads on a resolve answer; Xet headers are left out on purpose. */
const keptHubHeaders = ['x-repo-commit', 'x-linked-etag', 'x-linked-size', 'etag']

export type HubResolution =
  | { kind: 'lfs', key: TaskKey, location: string, headers: Record<string, string> }
  | { kind: 'other', upstream: Dispatcher.ResponseData }

/** The LFS oid (sha256) a Hub answer names in X-Linked-Etag, if any. */
export function linkedOid (headers: Record<string, string | string[] | undefined>): string | undefined {
  return /^(?:W\/)?"?([0-9a-f]{64})"?$/.exec(firstHeader(headers['x-linked-etag']) ?? '')?.[1]
}

/**
 * Asks the Hub where a file lives (`/{repo}/resolve/{rev}/{path}`) without following the
 * answer, with the given headers (a client's, or a preheat's token). An LFS file answers 302 to
 * a signed CDN URL with its sha256 in X-Linked-Etag: that gives its task key and the URL to
 * fetch it from. Anything else is the Hub's own answer, body unread.
 */
export async function resolveHubFile (target: URL, clientHeaders: HeaderRecord, dispatcher: Dispatcher, signal: AbortSignal, method: 'GET' | 'HEAD' = 'GET'): Promise<HubResolution> {
  const headers = { ...clientHeaders, host: target.host }
  let upstream: Dispatcher.ResponseData
  try {
    upstream = await dispatcher.request({ origin: target.origin, path: target.pathname + target.search, method, headers, signal })
  } catch (error) {
    if (signal.aborted) throw error
    throw certificateFailure(error, target.href) ?? new UpstreamUnreachableError(`cannot reach ${redactUrl(target.href)}: ${(error as Error).message}`, { cause: error })
  }
  const location = firstHeader(upstream.headers.location)
  const oid = linkedOid(upstream.headers)
  if (upstream.statusCode < 300 || upstream.statusCode >= 400 || location === undefined || oid === undefined) return { kind: 'other', upstream }
  upstream.body.resume()
  const kept: Record<string, string> = {}
  for (const name of keptHubHeaders) {
    const value = firstHeader(upstream.headers[name])
    if (value !== undefined) kept[name] = value
  }
  return {
    kind: 'lfs',
    key: lfsTaskKey(oid),
    // Relative redirects are resolved against the Hub URL asked.
    location: new URL(location, target).href,
    headers: kept
  }
}
