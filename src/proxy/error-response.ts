import type { ServerResponse } from 'node:http'
import { DamselflyError, LimitReachedError, RangeNotSatisfiableError, StorageError, UpstreamStatusError } from '../errors.js'
import { endToEndHeaders } from '../origin/http-headers.js'

/** Dragonfly's header, so its users' tooling keeps working: `backend` (the origin) or `proxy` (us). */
export const errorTypeHeader = 'x-dragonfly-error-type'
export const errorCodeHeader = 'x-damselfly-error-code'

interface HttpFailure {
  status: number
  type: 'backend' | 'proxy'
}

/** The one place errors become HTTP statuses (docs/errors.md lists them). */
export function httpFailureOf (error: unknown): HttpFailure {
  if (!(error instanceof DamselflyError)) return { status: 500, type: 'proxy' }
  switch (error.code) {
    case 'ERR_BAD_REQUEST':
    case 'ERR_INVALID_RANGE':
      return { status: 400, type: 'proxy' }
    case 'ERR_RANGE_NOT_SATISFIABLE':
      return { status: 416, type: 'proxy' }
    case 'ERR_HTTP_VERSION':
      return { status: 505, type: 'proxy' }
    case 'ERR_CLIENT_NOT_ALLOWED':
    case 'ERR_UPSTREAM_NOT_ALLOWED':
      return { status: 403, type: 'proxy' }
    case 'ERR_ADMIN_UNAUTHORIZED':
      return { status: 401, type: 'proxy' }
    case 'ERR_RATE_LIMITED':
    case 'ERR_TOO_MANY_TASKS':
      return { status: 429, type: 'proxy' }
    case 'ERR_UPSTREAM_STATUS':
      return { status: (error as UpstreamStatusError).status, type: 'backend' }
    case 'ERR_UPSTREAM_UNREACHABLE':
    case 'ERR_UPSTREAM_CERTIFICATE':
    case 'ERR_UPSTREAM_MISMATCH':
    case 'ERR_INTEGRITY':
      return { status: 502, type: 'backend' }
    case 'ERR_STORAGE':
      return { status: isDiskFull(error) ? 507 : 500, type: 'proxy' }
    case 'ERR_ABORTED':
      return { status: 503, type: 'proxy' }
    default:
      return { status: 500, type: 'proxy' }
  }
}

/**
 * Answers with the failure if nothing was sent yet; otherwise cuts the response, so that a
 * client never mistakes a partial body for a whole one.
 */
export function sendError (response: ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy(error instanceof Error ? error : undefined)
    return
  }
  const { status, type } = httpFailureOf(error)
  const code = error instanceof DamselflyError ? error.code : 'ERR_INTERNAL'
  if (error instanceof UpstreamStatusError) {
    // The origin's own answer, as it sent it: clients parse these bodies (S3 XML, Hub JSON).
    const headers = endToEndHeaders(error.headers)
    delete headers['content-length']
    response.writeHead(status, { ...headers, 'content-length': error.body.length, [errorTypeHeader]: type, [errorCodeHeader]: code })
    response.end(error.body)
    return
  }
  const body = `${error instanceof Error ? error.message : 'internal error'}\n`
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [errorTypeHeader]: type,
    [errorCodeHeader]: code
  }
  if (error instanceof RangeNotSatisfiableError) headers['content-range'] = `bytes */${error.length}`
  if (error instanceof LimitReachedError) headers['retry-after'] = error.retryAfterSeconds
  response.writeHead(status, headers)
  response.end(body)
}

function isDiskFull (error: StorageError | DamselflyError): boolean {
  const cause = error.cause as NodeJS.ErrnoException | undefined
  return cause?.code === 'ENOSPC' || cause?.code === 'EDQUOT' || error.message.includes('ENOSPC')
}
