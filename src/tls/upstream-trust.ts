import { readFile } from 'node:fs/promises'
import { createSecureContext, rootCertificates } from 'node:tls'
import { ConfigError } from '../errors.js'

/**
 * The CA list for HTTPS upstreams when `--upstream-ca-file` names extra ones: Node's own roots,
 * NODE_EXTRA_CA_CERTS and the file. Undefined without a file: undici's defaults, which are the
 * same roots. A `ca` option replaces Node's list rather than adding to it, hence the roots here.
 */
export async function loadUpstreamCa (file: string, env: Record<string, string | undefined> = process.env): Promise<string[] | undefined> {
  if (file === '') return undefined
  const extra = await readPem(file, '--upstream-ca-file')
  const fromEnv = env.NODE_EXTRA_CA_CERTS === undefined || env.NODE_EXTRA_CA_CERTS === ''
    ? []
    : [await readPem(env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS')]
  const ca = [...rootCertificates, ...fromEnv, extra]
  try {
    createSecureContext({ ca })
  } catch (error) {
    throw new ConfigError(`--upstream-ca-file ${file}: not a PEM certificate bundle (${(error as Error).message})`, { cause: error })
  }
  return ca
}

async function readPem (file: string, what: string): Promise<string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(error as Error).message}`, { cause: error })
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${what}: ${file} holds no PEM certificate`)
  return text
}
