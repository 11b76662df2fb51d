import type { Writable } from 'node:stream'
import { loadConfig } from '../config/index.js'
import { createCertificateAuthority } from '../tls/certificate-authority.js'
import { CaExistsError, caDirOf, writeCaFiles } from '../tls/ca-store.js'

const usage = `Usage: damselfly ca init [--data-dir DIR | --ca-dir DIR] [--config FILE] [--force]

Writes the node's certificate authority for HTTPS interception (--intercept-host): ca.crt, the
certificate the node's clients trust, and ca.key (mode 0600), which only the node reads, in
<data-dir>/ca or --ca-dir. Reads --config, DAMSELFLY_DATA_DIR and DAMSELFLY_CA_DIR as
\`damselfly start\` does, so the node finds the CA where this command wrote it.

Options:
  --data-dir DIR    the node's data directory (default ~/.cache/damselfly)
  --ca-dir DIR      write the CA here instead of <data-dir>/ca
  --config FILE     a node configuration file to take those from
  -f, --force       replace an existing CA: clients that trust the old one must be given the new
  -h, --help        show this text

Exit status: 0 when written, 1 when a CA exists (without --force) or cannot be written, 2 on a
usage or configuration error.
`

export interface CaIo {
  stdout: Writable
  stderr: Writable
  env: Record<string, string | undefined>
}

/** `damselfly ca init`: 0 on success, 1 when a CA exists or cannot be written, 2 on a usage error. */
export async function runCa (argv: string[], io: CaIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined) {
    io.stderr.write(usage)
    return 2
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    io.stdout.write(usage)
    return 0
  }
  if (command !== 'init') {
    io.stderr.write(`damselfly ca: unknown command "${command}"\n\n${usage}`)
    return 2
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.stdout.write(usage)
    return 0
  }
  const force = rest.includes('--force') || rest.includes('-f')
  const configArgs = rest.filter(arg => arg !== '--force' && arg !== '-f')
  // The same loader as `start`: the same file, variables and defaults lead to the same folder.
  const config = await loadConfig({ argv: configArgs, env: io.env })
  const caDir = caDirOf(config)
  const { ca, privateKeyPem } = await createCertificateAuthority()
  let files
  try {
    files = await writeCaFiles(caDir, { certificatePem: ca.certificatePem, privateKeyPem }, { force })
  } catch (error) {
    if (error instanceof CaExistsError) {
      io.stderr.write(`damselfly ca init: ${error.path} exists; refusing to replace the CA that clients may already trust (pass --force to do so)\n`)
      return 1
    }
    io.stderr.write(`damselfly ca init: cannot write the CA to ${caDir}: ${(error as Error).message}\n`)
    return 1
  }
  const certificate = files.certificate
  io.stdout.write(`Wrote a new CA "${ca.certificate.subject}", valid until ${ca.certificate.notAfter.toISOString().slice(0, 10)}:
  certificate  ${certificate}
  private key  ${files.privateKey} (mode 0600: whoever reads it can impersonate the intercepted hosts to this host's clients)

Start the node with the hosts to intercept, e.g.
  damselfly start --intercept-host huggingface.co --intercept-host '*.hf.co'

and make the clients that use it as HTTPS_PROXY trust the certificate:
  curl:                      curl --proxy http://127.0.0.1:65001 --cacert ${certificate} URL
  Python requests (hf 0.x):  export REQUESTS_CA_BUNDLE=BUNDLE
  httpx, OpenSSL (hf 1.x):   export SSL_CERT_FILE=BUNDLE
  Node.js:                   export NODE_EXTRA_CA_CERTS=${certificate}
where BUNDLE is the system's CAs plus this one, since those variables replace the default list:
  cat /etc/ssl/certs/ca-certificates.crt ${certificate} > BUNDLE
Or trust it system-wide (Debian, Ubuntu):
  cp ${certificate} /usr/local/share/ca-certificates/damselfly.crt && update-ca-certificates
`)
  return 0
}
