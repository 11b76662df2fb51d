import type { ServerResponse } from 'node:http'
import { AdminUnauthorizedError, type DamselflyError } from '../errors.js'
import { errorCodeHeader, httpFailureOf } from '../proxy/error-response.js'

/**
 * An admin failure as JSON (`{"error": message, "code": code}`) with the status the one mapping
 * gives its code (src/proxy/error-response.ts) and the `X-Damselfly-Error-Code` header. A 401
 * says how to authenticate (`WWW-Authenticate: Bearer`, RFC 6750: `error="invalid_token"` when a
 * token came and was wrong).
 */
export function sendAdminError (response: ServerResponse, error: DamselflyError): void {
  const body = JSON.stringify({ error: error.message, code: error.code }) + '\n'
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    [errorCodeHeader]: error.code
  }
  if (error instanceof AdminUnauthorizedError) {
    headers['www-authenticate'] = `Bearer realm="damselfly admin"${error.reason === 'invalid' ? ', error="invalid_token"' : ''}`
  }
  response.writeHead(httpFailureOf(error).status, headers)
  response.end(body)
}
