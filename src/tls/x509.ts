// @peculiar/x509 resolves its ASN.1 parsers through tsyringe, which needs the Reflect metadata
// API: the polyfill must be evaluated before the library, so every use goes through this module.
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto)

export { x509 }

/** ECDSA P-256 with SHA-256: native in WebCrypto, fast to generate, accepted by every TLS client. */
export const signingAlgorithm: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }

/** A positive random serial of 16 bytes, as RFC 5280 §4.1.2.2 asks (unique per issuer, ≤ 20 bytes). */
export function randomSerialNumber (): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16))
  bytes[0] = (bytes[0] ?? 0) & 0x7f | 0x01
  return Buffer.from(bytes).toString('hex')
}
