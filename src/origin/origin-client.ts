import type { Readable } from 'node:stream'
import { Agent, type Dispatcher } from 'undici'
import { UpstreamMismatchError, UpstreamNotAllowedError, UpstreamStatusError, UpstreamUnreachableError, redactUrl } from '../errors.js'
import type { UpstreamHosts } from '../limits/access-list.js'
import type { Logger } from '../logging/logger.js'
import { certificateFailure } from './certificate-failure.js'
import type { Metrics } from '../metrics/metrics.js'
import { firstHeader, withoutCredentials, type HeaderRecord } from './http-headers.js'
import { withRetries } from './retry.js'
import { dispatchRange, type RangeAnswer } from './range-dispatch.js'

/** Where a task's bytes come from: a URL and the client's headers (its token) to send with it. */
export interface OriginSource {
  url: string
  headers: Record<string, string>
}

export interface OriginClientInit {
  retries: number
  retryDelayMs: number
  connectTimeoutMs: number
  /** A response that sends nothing for this long is abandoned (and retried). */
  idleTimeoutMs: number
  /** Redirects followed before giving up. @default 8 */
  maxRedirections?: number
  /** CAs trusted for HTTPS origins (PEM), replacing Node's list. @default Node's roots */
  ca?: string[]
  /** Hosts the node may fetch from, redirects included (a seed fetches URLs peers send it). @default every host */
  allowedUpstreams?: UpstreamHosts
}

export interface OriginClientComponents {
  logger: Logger
  metrics?: Pick<Metrics, 'originResponse'>
}

export interface ProbeResult {
  length: number
  etag?: string
  /** Response headers worth replaying on hits. */
  headers: Record<string, string>
  /** Where the redirects ended, with the headers still fit to send there: pieces go straight to it. */
  finalSource: OriginSource
  /** Set when the origin ignored Range and is sending the whole body: read it in order. */
  wholeBody?: Readable
}

/** Where readRange puts a range's bytes. */
export interface RangeSink {
  /** Takes one chunk (in undici's memory: copy what must outlive the call); false pauses the response until `resume`. */
  data: (chunk: Buffer) => boolean
  /** Called with the request's controls as it is sent (again after a redirect). */
  started: (controls: { resume: () => void, abort: (error: Error) => void }) => void
}

const replayedHeaders = ['content-type', 'content-disposition', 'last-modified', 'etag']
const retryableStatuses = new Set([408, 429, 500, 502, 503, 504])
const errorBodyLimit = 64 * 1024

/**
 * The node's only way to the origin (undici): a length probe and ranged GETs, redirects
 * followed by hand so that pieces go straight to the final CDN URL, retries with backoff on
 * resets, timeouts and 5xx. Everything else is the caller's business.
 */
export class OriginClient {
  private readonly dispatcher: Dispatcher
  private readonly init: OriginClientInit
  private readonly log: Logger
  private readonly metrics?: Pick<Metrics, 'originResponse'>

  constructor (components: OriginClientComponents, init: OriginClientInit) {
    this.init = init
    this.metrics = components.metrics
    this.log = components.logger.forComponent('origin')
    this.dispatcher = new Agent({
      connect: { timeout: init.connectTimeoutMs, ca: init.ca },
      headersTimeout: init.idleTimeoutMs,
      bodyTimeout: init.idleTimeoutMs,
      keepAliveTimeout: 30_000
    })
  }

  /**
   * Learns length and validator with `Range: bytes=0-0` (a GET, since signed URLs are bound
   * to their method). A failure status comes back as UpstreamStatusError with the origin's body.
   */
  async probe (source: OriginSource, signal: AbortSignal): Promise<ProbeResult> {
    return await this.retrying(signal, async () => {
      const { response, url, finalSource } = await this.get(source, { range: 'bytes=0-0' }, signal)
      const headers = response.headers
      const kept: Record<string, string> = {}
      for (const name of replayedHeaders) {
        const value = firstHeader(headers[name])
        if (value !== undefined) kept[name] = value
      }
      const etag = firstHeader(headers.etag)
      if (response.statusCode === 206) {
        response.body.resume()
        const total = parseContentRange(firstHeader(headers['content-range']))?.total
        if (total === undefined) throw new UpstreamMismatchError(`origin sent 206 without a usable Content-Range for ${redactUrl(url)}`)
        return { length: total, etag, headers: kept, finalSource }
      }
      if (response.statusCode === 416) {
        // Only an empty file has no byte 0.
        response.body.resume()
        const total = parseUnsatisfiedRange(firstHeader(headers['content-range']))
        if (total === 0) return { length: 0, etag, headers: kept, finalSource }
        throw await statusError(response, url)
      }
      if (response.statusCode === 200) {
        const length = Number(firstHeader(headers['content-length']))
        if (!Number.isSafeInteger(length) || length < 0) {
          response.body.destroy()
          throw new UpstreamMismatchError(`origin ignored Range and sent no Content-Length for ${redactUrl(url)}`)
        }
        return { length, etag, headers: kept, finalSource, wholeBody: response.body }
      }
      throw await statusError(response, url)
    })
  }

  /**
   * The bytes `start..end` (inclusive) of a `length`-byte content, handed to `sink` chunk by
   * chunk as undici reads them (its dispatch API: no body stream). Resolves once the body
   * ended; the caller checks it got every byte. A 200 (Range ignored) or a Content-Range other than the one asked for is an
   * UpstreamMismatchError; another status an UpstreamStatusError with the origin's body.
   */
  async readRange (source: OriginSource, start: number, end: number, length: number, sink: RangeSink, signal: AbortSignal): Promise<void> {
    let url = source.url
    let sourceHeaders = source.headers
    for (let redirects = 0; ; redirects++) {
      const allowed = this.init.allowedUpstreams
      if (allowed !== undefined && !allowed.allowsUrl(url)) throw new UpstreamNotAllowedError(new URL(url).hostname)
      const request = dispatchRange(this.dispatcher, {
        ...splitUrl(url),
        headers: { ...sourceHeaders, range: `bytes=${start}-${end}`, 'accept-encoding': 'identity' },
        accept: (headers) => {
          const range = parseContentRange(firstHeader(headers['content-range']))
          if (range === undefined || range.start !== start || range.end !== end || range.total !== length) {
            return new UpstreamMismatchError(`origin answered Range ${start}-${end}/${length} with ${String(headers['content-range'])}`)
          }
          return undefined
        },
        onData: sink.data,
        errorBodyLimit,
        signal
      })
      sink.started({ resume: request.resume, abort: request.abort })
      let answer: RangeAnswer
      try {
        answer = await request.answer
      } catch (error) {
        const status = request.status()
        this.metrics?.originResponse(status === 0 ? 'error' : status)
        if (signal.aborted) throw error
        // A cut body, a refused Content-Range or the sink's own failure (a full disk) as it is;
        // no answer at all is an unreachable origin.
        if (status !== 0 || !(error instanceof Error) || error instanceof UpstreamMismatchError) throw error
        throw certificateFailure(error, url) ?? new UpstreamUnreachableError(`cannot reach ${redactUrl(url)}: ${describe(error)}`, { cause: error })
      }
      this.metrics?.originResponse(answer.status)
      if (answer.status === 206) return
      const location = firstHeader(answer.headers.location)
      if (answer.status >= 300 && answer.status < 400 && location !== undefined && answer.status !== 304) {
        if (redirects >= (this.init.maxRedirections ?? 8)) throw new UpstreamUnreachableError(`too many redirects from ${redactUrl(source.url)}`)
        const next = new URL(location, url)
        // A token for the Hub must not follow the redirect to a CDN on another host.
        if (next.origin !== new URL(url).origin) sourceHeaders = withoutCredentials(sourceHeaders)
        url = next.href
        continue
      }
      if (answer.status === 200) throw new UpstreamMismatchError(`origin ignored Range ${start}-${end} for ${redactUrl(url)}`)
      throw new UpstreamStatusError(answer.status, answer.headers, answer.body ?? Buffer.alloc(0), url)
    }
  }

  /** Retries of the whole operation on transient failures. */
  async retrying<T> (signal: AbortSignal, attempt: () => Promise<T>): Promise<T> {
    return await withRetries(attempt, {
      retries: this.init.retries,
      delayMs: this.init.retryDelayMs,
      signal,
      isRetryable: isTransient,
      onRetry: (error, attemptNumber) => {
        this.log.debug('retrying origin request', { attempt: attemptNumber, error: describe(error) })
      }
    })
  }

  async close (): Promise<void> {
    await this.dispatcher.destroy()
  }

  private async get (source: OriginSource, extra: Record<string, string>, signal: AbortSignal): Promise<{ response: Dispatcher.ResponseData, url: string, finalSource: OriginSource }> {
    let url = source.url
    let sourceHeaders = source.headers
    for (let redirects = 0; ; redirects++) {
      const allowed = this.init.allowedUpstreams
      if (allowed !== undefined && !allowed.allowsUrl(url)) throw new UpstreamNotAllowedError(new URL(url).hostname)
      let response: Dispatcher.ResponseData
      try {
        const headers = { ...sourceHeaders, ...extra, 'accept-encoding': 'identity' }
        response = await this.dispatcher.request({ ...splitUrl(url), method: 'GET', headers, signal })
        this.metrics?.originResponse(response.statusCode)
      } catch (error) {
        if (signal.aborted) throw error
        this.metrics?.originResponse('error')
        throw certificateFailure(error, url) ?? new UpstreamUnreachableError(`cannot reach ${redactUrl(url)}: ${describe(error)}`, { cause: error })
      }
      const location = firstHeader(response.headers.location)
      if (response.statusCode < 300 || response.statusCode >= 400 || location === undefined || response.statusCode === 304) {
        return { response, url, finalSource: { url, headers: sourceHeaders } }
      }
      response.body.resume()
      if (redirects >= (this.init.maxRedirections ?? 8)) {
        throw new UpstreamUnreachableError(`too many redirects from ${redactUrl(source.url)}`)
      }
      const next = new URL(location, url)
      // A token for the Hub must not follow the redirect to a CDN on another host.
      if (next.origin !== new URL(url).origin) sourceHeaders = withoutCredentials(sourceHeaders)
      url = next.href
    }
  }
}

function splitUrl (url: string): { origin: string, path: string } {
  const parsed = new URL(url)
  return { origin: parsed.origin, path: parsed.pathname + parsed.search }
}

async function statusError (response: Dispatcher.ResponseData, url: string): Promise<UpstreamStatusError> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      chunks.push(chunk)
      size += chunk.length
      if (size >= errorBodyLimit) break
    }
  } catch {
    // A broken error body still leaves the status worth reporting.
  } finally {
    response.body.destroy()
  }
  return new UpstreamStatusError(response.statusCode, response.headers as HeaderRecord, Buffer.concat(chunks).subarray(0, errorBodyLimit), url)
}

export function isTransient (error: unknown): boolean {
  if (error instanceof UpstreamStatusError) return retryableStatuses.has(error.status)
  if (error instanceof UpstreamUnreachableError) return true
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && (code.startsWith('UND_ERR_') || ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT'].includes(code))
}

export function parseContentRange (value: string | undefined): { start: number, end: number, total: number } | undefined {
  const match = value === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value.trim())
  if (match === null) return undefined
  return { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) }
}

function parseUnsatisfiedRange (value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^bytes \*\/(\d+)$/.exec(value.trim())
  return match === null ? undefined : Number(match[1])
}

function describe (error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}
