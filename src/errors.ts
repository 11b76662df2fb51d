/**
 * Every failure Damselfly reports is one of these classes. Each has a stable `code`
 * (documented in docs/errors.md); the proxy maps codes to HTTP statuses in one place
 * (src/proxy/error-response.ts).
 */
export class DamselflyError extends Error {
  readonly code: string

  constructor (code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** The configuration is invalid: a bad file, variable or flag. */
export class ConfigError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_CONFIG', message, options)
  }
}

/** The client's request cannot be served as asked (bad URL, bad header, missing host). */
export class BadRequestError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_BAD_REQUEST', message, options)
  }
}

/** A request line naming an HTTP version other than 1.0 and 1.1 (the proxy speaks HTTP/1.x). */
export class HttpVersionError extends DamselflyError {
  constructor (version: string) {
    super('ERR_HTTP_VERSION', `HTTP/${version.slice(0, 20)} is not supported: the proxy speaks HTTP/1.0 and HTTP/1.1`)
  }
}

/** A Range header that is malformed. */
export class InvalidRangeError extends DamselflyError {
  constructor (message: string) {
    super('ERR_INVALID_RANGE', message)
  }
}

/** A Range that lies outside the content: the answer is 416. */
export class RangeNotSatisfiableError extends DamselflyError {
  readonly length: number

  constructor (length: number) {
    super('ERR_RANGE_NOT_SATISFIABLE', `range not satisfiable for a ${length}-byte content`)
    this.length = length
  }
}

/**
 * The origin answered with a status that is not a success. Its status, headers and
 * (capped) body are kept so the client receives what the origin sent.
 */
export class UpstreamStatusError extends DamselflyError {
  readonly status: number
  readonly headers: Record<string, string | string[]>
  readonly body: Buffer

  constructor (status: number, headers: Record<string, string | string[]>, body: Buffer, url: string) {
    super('ERR_UPSTREAM_STATUS', `origin answered ${status} for ${redactUrl(url)}`)
    this.status = status
    this.headers = headers
    this.body = body
  }
}

/** The origin could not be reached, or broke off, after every retry. */
export class UpstreamUnreachableError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_UPSTREAM_UNREACHABLE', message, options)
  }
}

/**
 * The origin's TLS certificate did not verify against the trusted CAs (Node's roots and
 * `--upstream-ca-file`). Never retried: it will not verify on the next try either.
 */
export class UpstreamCertificateError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_UPSTREAM_CERTIFICATE', message, options)
  }
}

/** The origin sent something that contradicts what it said before (length, ETag, range). */
export class UpstreamMismatchError extends DamselflyError {
  constructor (message: string) {
    super('ERR_UPSTREAM_MISMATCH', message)
  }
}

/**
 * Bytes failed a hash check: the whole file did not hash to the sha256 its key names (the
 * origin or a peer supplied wrong bytes), or a piece read back from disk no longer hashes to
 * the digest recorded when it was written (bit rot, a torn write, tampering).
 */
export class IntegrityError extends DamselflyError {
  constructor (message: string) {
    super('ERR_INTEGRITY', message)
  }
}

/** A block read from the cache does not match its recorded sha256 (or has none to match): its piece must be refetched. */
export class BlockMismatchError extends IntegrityError {
  /** The piece holding the block. */
  readonly piece: number

  constructor (piece: number, message: string) {
    super(message)
    this.piece = piece
  }
}

/** Reading or writing the cache failed. */
export class StorageError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_STORAGE', message, options)
  }
}

/** The client's address is not in an allowed network (`--allowed-clients`): the answer is 403. */
export class ClientNotAllowedError extends DamselflyError {
  constructor (address: string) {
    super('ERR_CLIENT_NOT_ALLOWED', `client ${address} is not in an allowed network`)
  }
}

/**
 * An admin request that changes something (any method but GET and HEAD) came without the node's
 * admin token (`--admin-token-file`), or with another one: the answer is 401 with
 * `WWW-Authenticate: Bearer`.
 */
export class AdminUnauthorizedError extends DamselflyError {
  /** `missing`: no `Authorization: Bearer` header; `invalid`: a token that is not the node's. */
  readonly reason: 'missing' | 'invalid'

  constructor (reason: 'missing' | 'invalid') {
    super('ERR_ADMIN_UNAUTHORIZED', reason === 'missing'
      ? 'this admin endpoint changes the node: send Authorization: Bearer <the token in the node\'s --admin-token-file>'
      : 'the admin token is not this node\'s (compare it with the node\'s --admin-token-file)')
    this.reason = reason
  }
}

/** The upstream host is not allowed (`--allowed-upstreams`): the node neither forwards to nor fetches from it. */
export class UpstreamNotAllowedError extends DamselflyError {
  constructor (host: string) {
    super('ERR_UPSTREAM_NOT_ALLOWED', `upstream host ${host} is not allowed`)
  }
}

/** A limit was reached (request rate, concurrent tasks): the answer is 429 with Retry-After. */
export class LimitReachedError extends DamselflyError {
  /** Whole seconds the client should wait before trying again. */
  readonly retryAfterSeconds: number

  constructor (code: 'ERR_RATE_LIMITED' | 'ERR_TOO_MANY_TASKS', message: string, retryAfterSeconds: number) {
    super(code, message)
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds))
  }
}

/**
 * A content cannot be cached within the quota (larger than the quota, or everything else is in
 * use): the proxy streams it from the origin without keeping it. Never reaches a client.
 */
export class NotCacheableError extends DamselflyError {
  constructor (message: string) {
    super('ERR_NOT_CACHEABLE', message)
  }
}

/** A preheat could not warm a file: no elected seed accepted it, or the seeds stopped making progress. */
export class PreheatError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_PREHEAT', message, options)
  }
}

/**
 * A data connection (the TCP connection that carries piece bytes beside libp2p) could not be
 * opened, was refused, broke a record (a tag that does not verify, a bad frame) or was cut:
 * every request in flight on it fails with this, and the download asks again.
 */
export class DataConnectionError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_DATA_CONNECTION', message, options)
  }
}

/**
 * A holder refused a piece because its uplink is booked too far ahead (UploadQueue): not a
 * fault, and not a sign that it lacks the piece. The downloader asks someone else, and this
 * holder again after `retryAfterMs`.
 */
export class PeerBusyError extends DamselflyError {
  readonly retryAfterMs: number

  constructor (retryAfterMs: number) {
    super('ERR_PEER_BUSY', `the peer is busy; it asks to retry in ${retryAfterMs} ms`)
    this.retryAfterMs = retryAfterMs
  }
}

/** The operation was cancelled through its AbortSignal. */
export class AbortedError extends DamselflyError {
  constructor (message = 'the operation was aborted') {
    super('ERR_ABORTED', message)
  }
}

/**
 * `damselfly get`: one file could not be downloaded. `status` and `errorType` (the node's
 * X-Dragonfly-Error-Type) are set when an HTTP answer was the cause.
 */
export class DownloadError extends DamselflyError {
  readonly status?: number
  readonly errorType?: string

  constructor (message: string, options?: ErrorOptions & { status?: number, errorType?: string }) {
    super('ERR_DOWNLOAD', message, options)
    if (options?.status !== undefined) this.status = options.status
    if (options?.errorType !== undefined) this.errorType = options.errorType
  }
}

/** `damselfly get`: no node answers at the address given and none could be started here. */
export class NodeUnavailableError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_NODE_UNAVAILABLE', message, options)
  }
}

/** A signed URL's query carries secrets: never log it whole. */
export function redactUrl (url: string): string {
  const queryStart = url.indexOf('?')
  return queryStart === -1 ? url : `${url.slice(0, queryStart)}?…`
}
