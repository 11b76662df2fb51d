import type { IncomingMessage } from 'node:http'
import { createHash } from 'node:crypto'
import type { Dispatcher } from 'undici'
import { UpstreamUnreachableError, redactUrl } from '../errors.js'
import { certificateFailure } from '../origin/certificate-failure.js'
import { firstHeader, upstreamRequestHeaders, type HeaderRecord } from '../origin/http-headers.js'
import type { TaskKey } from '../task/task-key.js'

/** `/{owner}/{repo}/resolve/{rev}/{path}`, also under `/datasets/` and `/spaces/`. */
const resolvePath = /^\/(?:(?:datasets|spaces)\/)?[^/]+\/[^/]+\/resolve\/[^/]+\/./
/** The Hub's headers a client reads on a resolve answer; Xet headers are left out on purpose. */
const keptHubHeaders = ['x-repo-commit', 'x-linked-etag', 'x-linked-size', 'etag']

export type HubResolution =
  | { kind: 'lfs', key: TaskKey, location: string, headers: Record<string, string> }
  | { kind: 'other', upstream: Dispatcher.ResponseData }

/** The LFS oid (sha256) a Hub answer names in X-Linked-Etag, if any. */
export function linkedOid (headers: Record<string, string | string[] | undefined>): string | undefined {
  return /^(?:W\/)?"?([0-9a-f]{64})"?$/.exec(firstHeader(headers['x-linked-etag']) ?? '')?.[1]
}

/** The task key of an LFS file named by its oid. */
export function lfsTaskKey (oid: string): TaskKey {
  const key = `sha256:${oid}`
  return { key, id: createHash('sha256').update(key).digest('hex'), contentSha256: oid }
}

/** A mirror-style (HF_ENDPOINT) GET or HEAD of a Hub resolve URL. */
export function isHubResolve (request: IncomingMessage, target: URL): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && (request.url ?? '').startsWith('/') && resolvePath.test(target.pathname)
}

/**
 * Asks the Hub where a file lives without following the answer. An LFS file answers 302 to a
 * signed CDN URL with its sha256 in X-Linked-Etag: the node then serves the bytes itself, from
 * its task for that sha256, so clients pointed at it with HF_ENDPOINT never leave it.
 */
export async function resolveOnHub (request: IncomingMessage, target: URL, dispatcher: Dispatcher, signal: AbortSignal): Promise<HubResolution> {
  return await resolveHubFile(target, upstreamRequestHeaders(request.headers), dispatcher, signal, request.method === 'HEAD' ? 'HEAD' : 'GET')
}

/**
 * The same question asked with the given headers (the client's, or a preheat's token): an LFS
 * file's task key and signed CDN URL, or the Hub's own answer for anything else.
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
