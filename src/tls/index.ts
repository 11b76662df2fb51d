/**
 * HTTPS interception: the node's CA (`damselfly ca init`), leaf certificates for the hosts
 * listed with `--intercept-host`, and the CAs trusted for upstreams (`--upstream-ca-file`).
 */
import type { Logger } from '../logging/logger.js'
import { loadCaFiles } from './ca-store.js'
import { LeafIssuer } from './leaf-issuer.js'

export { caDirOf, caFilesIn, loadCaFiles, writeCaFiles } from './ca-store.js'
export { createCertificateAuthority, type CertificateAuthority } from './certificate-authority.js'
export { HostMatcher, parseHostPattern } from './host-patterns.js'
export { issueLeafCertificate, LeafIssuer, type LeafCertificate } from './leaf-issuer.js'
export { loadUpstreamCa } from './upstream-trust.js'

/** The issuer for a node that intercepts: its CA must exist (a ConfigError says how to make it). */
export async function loadLeafIssuer (caDir: string, components: { logger: Logger }): Promise<LeafIssuer> {
  const { ca, files, keyMode } = await loadCaFiles(caDir)
  if ((keyMode & 0o077) !== 0) {
    components.logger.forComponent('tls').warn('the CA key can be read by other users, who could then impersonate the intercepted hosts: chmod 600 it', {
      file: files.privateKey,
      mode: keyMode.toString(8)
    })
  }
  return new LeafIssuer({ ca })
}
