import { webcrypto } from 'node:crypto'
import { hostname } from 'node:os'
import { randomSerialNumber, signingAlgorithm, x509 } from './x509.js'

/** The node's own CA: it signs the leaf certificates of the hosts it intercepts. */
export interface CertificateAuthority {
  certificate: x509.X509Certificate
  /** The certificate as PEM: what clients are told to trust. */
  certificatePem: string
  privateKey: webcrypto.CryptoKey
}

export interface CreateCertificateAuthorityInit {
  /** @default `Damselfly CA on <hostname>` */
  commonName?: string
  /** @default 3650 */
  validityDays?: number
}

const day = 24 * 60 * 60 * 1000

/**
 * A new self-signed CA (ECDSA P-256) that may sign only end-entity certificates (path length
 * 0), with its private key as PKCS#8 PEM for the key file.
 */
export async function createCertificateAuthority (init: CreateCertificateAuthorityInit = {}): Promise<{ ca: CertificateAuthority, privateKeyPem: string }> {
  const keys = await webcrypto.subtle.generateKey(signingAlgorithm, true, ['sign', 'verify'])
  const now = Date.now()
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [init.commonName ?? `Damselfly CA on ${hostname()}`] }, { O: ['Damselfly'] }],
    // An hour back: a client whose clock is a little behind still accepts it.
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + (init.validityDays ?? 3650) * day),
    signingAlgorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      // OpenSSL's strict mode (Python 3.13's default) wants it even on a root.
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey)
    ]
  })
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)
  return {
    ca: { certificate, certificatePem: certificate.toString('pem'), privateKey: keys.privateKey },
    privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')
  }
}

/** A CA from its PEM files' contents; throws when they are not a matching ECDSA P-256 pair. */
export async function parseCertificateAuthority (certificatePem: string, privateKeyPem: string): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(certificatePem)
  const privateKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(privateKeyPem), signingAlgorithm, false, ['sign'])
  // Signing a probe and checking it with the certificate's key proves the two belong together.
  const probe = webcrypto.getRandomValues(new Uint8Array(32))
  const signature = await webcrypto.subtle.sign(signingAlgorithm, privateKey, probe)
  const publicKey = await certificate.publicKey.export(signingAlgorithm, ['verify'])
  if (!await webcrypto.subtle.verify(signingAlgorithm, publicKey, signature, probe)) {
    throw new Error('the private key does not belong to the certificate')
  }
  return { certificate, certificatePem: certificate.toString('pem'), privateKey }
}
