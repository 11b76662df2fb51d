import { createHash, timingSafeEqual } from 'node:crypto'
import { AdminUnauthorizedError } from '../errors.js'

/**
 * Checks `Authorization: Bearer <token>` against the admin token. Both sides are hashed first,
 * so that the comparison is between equal-length digests and takes the same time wherever the
 * presented token differs, and whatever its length.
 */
export class BearerGuard {
  private readonly digest: Buffer

  constructor (token: string) {
    this.digest = sha256(token)
  }

  /** Undefined when the header carries the token; otherwise why not. */
  check (authorization: string | undefined): AdminUnauthorizedError | undefined {
    const presented = bearerToken(authorization)
    if (presented === undefined) return new AdminUnauthorizedError('missing')
    return timingSafeEqual(sha256(presented), this.digest) ? undefined : new AdminUnauthorizedError('invalid')
  }
}

/** The token of a Bearer credential (the scheme is case-insensitive, RFC 9110 §11.1). */
function bearerToken (authorization: string | undefined): string | undefined {
  const match = /^\s*bearer +(\S+)\s*$/i.exec(authorization ?? '')
  return match?.[1]
}

function sha256 (text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}
