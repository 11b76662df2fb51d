import { UpstreamCertificateError, redactUrl } from '../errors.js'

/** OpenSSL's verification failures as Node names them, and Node's own host-name check. */
const certificateCodes = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_REJECTED', 'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE', 'CERT_CHAIN_TOO_LONG', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'INVALID_CA', 'INVALID_PURPOSE', 'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD'
])

/**
 * The certificate error behind a failed upstream request (undici passes the TLS socket's error
 * on, sometimes as a cause), as UpstreamCertificateError; undefined for any other failure.
 */
export function certificateFailure (error: unknown, url: string): UpstreamCertificateError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && certificateCodes.has(code)) {
      const host = new URL(url).host
      return new UpstreamCertificateError(
        `the TLS certificate of ${host} does not verify (${code}: ${current.message}) for ${redactUrl(url)}; ` +
        'if it is signed by a private CA, give that CA with --upstream-ca-file', { cause: error })
    }
  }
  return undefined
}
