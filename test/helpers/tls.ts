import { webcrypto } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createCertificateAuthority, issueLeafCertificate } from '../../src/tls/index.js'
import { signingAlgorithm, x509 } from '../../src/tls/x509.js'

/** A server's TLS identity signed by a CA of its own, as a test upstream needs. */
export interface TestTlsIdentity {
  /** PEM key and certificate, for https.createServer / startFakeHub's `tls`. */
  key: string
  cert: string
  /** The CA's certificate, written to `caFile` for clients and `--upstream-ca-file`. */
  caFile: string
}

/** A new CA named `name` and a certificate from it for `hosts` (DNS names or IPs). */
export async function makeTlsIdentity (folder: string, name: string, hosts: string[]): Promise<TestTlsIdentity> {
  const { ca } = await createCertificateAuthority({ commonName: name, validityDays: 2 })
  const keys = await webcrypto.subtle.generateKey(signingAlgorithm, true, ['sign', 'verify'])
  const certificate = await issueLeafCertificate(ca, { hosts, publicKey: keys.publicKey, validityDays: 1 })
  const caFile = join(folder, `${name.replace(/\W+/g, '-')}.crt`)
  await writeFile(caFile, ca.certificatePem)
  return {
    key: x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'),
    cert: certificate.toString('pem'),
    caFile
  }
}
