import { webcrypto } from 'node:crypto'
import { isIP } from 'node:net'
import { createSecureContext, type SecureContext } from 'node:tls'
import type { CertificateAuthority } from './certificate-authority.js'
import { randomSerialNumber, signingAlgorithm, x509 } from './x509.js'

export interface LeafCertificate {
  host: string
  certificatePem: string
  privateKeyPem: string
  notAfter: Date
  /** Ready for a TLS server socket. */
  secureContext: SecureContext
}

export interface LeafIssuerComponents {
  ca: CertificateAuthority
}

export interface LeafIssuerInit {
  /** Lifetime of a leaf certificate. @default 30 */
  validityDays?: number
  /** Hosts whose certificates are kept; the oldest is dropped past this. @default 1000 */
  maxCached?: number
}

const day = 24 * 60 * 60 * 1000
/** Some TLS stacks refuse a CN over 64 characters (RFC 5280 ub-common-name): the SAN carries the name anyway. */
const maxCommonName = 64

/**
 * Leaf certificates for intercepted hosts, made on demand from the node's CA and kept in memory
 * per host. All leaves share one key pair made at the first issue: keys are what is costly to
 * make, and the CA key, not the leaf key, is what a client's trust rests on.
 */
export class LeafIssuer {
  private readonly ca: CertificateAuthority
  private readonly validityDays: number
  private readonly maxCached: number
  private readonly cache = new Map<string, Promise<LeafCertificate>>()
  private keys?: Promise<{ pair: webcrypto.CryptoKeyPair, privateKeyPem: string }>

  constructor (components: LeafIssuerComponents, init: LeafIssuerInit = {}) {
    this.ca = components.ca
    this.validityDays = init.validityDays ?? 30
    this.maxCached = init.maxCached ?? 1000
  }

  /** The certificate for `host` (a DNS name or an IP address, without brackets or port). */
  async issue (host: string): Promise<LeafCertificate> {
    const name = host.toLowerCase()
    for (let cached = this.cache.get(name); cached !== undefined; cached = this.cache.get(name)) {
      const leaf = await cached.catch(() => undefined)
      // Renewed a day before it runs out, so a long-running node never serves an expired one.
      if (leaf !== undefined && leaf.notAfter.getTime() - Date.now() > day) return leaf
      // Otherwise drop it, unless a concurrent caller has already put a new one in its place.
      if (this.cache.get(name) === cached) {
        this.cache.delete(name)
        break
      }
    }
    const pending = this.make(name)
    this.cache.set(name, pending)
    pending.catch(() => { if (this.cache.get(name) === pending) this.cache.delete(name) })
    if (this.cache.size > this.maxCached) {
      const oldest = this.cache.keys().next().value
      if (oldest !== undefined) this.cache.delete(oldest)
    }
    return await pending
  }

  private async make (host: string): Promise<LeafCertificate> {
    const keys = await this.leafKeys()
    const certificate = await issueLeafCertificate(this.ca, { hosts: [host], publicKey: keys.pair.publicKey, validityDays: this.validityDays })
    const certificatePem = certificate.toString('pem')
    return {
      host,
      certificatePem,
      privateKeyPem: keys.privateKeyPem,
      notAfter: certificate.notAfter,
      secureContext: createSecureContext({ cert: certificatePem, key: keys.privateKeyPem })
    }
  }

  private async leafKeys (): Promise<{ pair: webcrypto.CryptoKeyPair, privateKeyPem: string }> {
    this.keys ??= (async () => {
      const pair = await webcrypto.subtle.generateKey(signingAlgorithm, true, ['sign', 'verify'])
      const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', pair.privateKey)
      return { pair, privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') }
    })()
    return await this.keys
  }
}

export interface IssueLeafInit {
  /** DNS names and IP addresses the certificate is for: the first is also its CN. */
  hosts: string[]
  publicKey: webcrypto.CryptoKey
  /** @default 30 */
  validityDays?: number
}

/**
 * A TLS server certificate signed by `ca`: SAN entries (DNS or IP) for every host, serverAuth,
 * not a CA, valid from an hour ago (clock skew) until `validityDays` from now or the CA's own
 * end, whichever is first.
 */
export async function issueLeafCertificate (ca: CertificateAuthority, init: IssueLeafInit): Promise<x509.X509Certificate> {
  const first = init.hosts[0]
  if (first === undefined) throw new Error('a leaf certificate needs at least one host')
  const now = Date.now()
  const notAfter = Math.min(now + (init.validityDays ?? 30) * day, ca.certificate.notAfter.getTime())
  return await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: first.length <= maxCommonName ? [{ CN: [first] }] : [],
    issuer: ca.certificate.subjectName,
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(notAfter),
    signingAlgorithm,
    publicKey: init.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      // Critical when the subject is empty, as RFC 5280 §4.2.1.6 requires.
      new x509.SubjectAlternativeNameExtension(init.hosts.map(host => ({ type: isIP(host) === 0 ? 'dns' as const : 'ip' as const, value: host })), first.length > maxCommonName),
      await x509.SubjectKeyIdentifierExtension.create(init.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate)
    ]
  })
}
