import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import { parseCertificateAuthority, type CertificateAuthority } from './certificate-authority.js'

/** Where a CA lives in its folder: `ca.crt` for clients to trust, `ca.key` (mode 0600) for the node. */
export interface CaFiles {
  certificate: string
  privateKey: string
}

export function caFilesIn (caDir: string): CaFiles {
  return { certificate: join(caDir, 'ca.crt'), privateKey: join(caDir, 'ca.key') }
}

/** The CA directory a configuration means: `--ca-dir`, or `<data-dir>/ca` when that is empty. */
export function caDirOf (config: { dataDir: string, tls: { caDir: string } }): string {
  return config.tls.caDir === '' ? join(config.dataDir, 'ca') : config.tls.caDir
}

/** Thrown by writeCaFiles when a CA is there and `force` was not given. */
export class CaExistsError extends Error {
  readonly path: string

  constructor (path: string) {
    super(`${path} exists`)
    this.name = 'CaExistsError'
    this.path = path
  }
}

/**
 * Writes the key (0600) and then the certificate. Without `force` an existing file of either is
 * left alone and CaExistsError thrown; with it each file is replaced by a rename, so a reader
 * never sees half a key.
 */
export async function writeCaFiles (caDir: string, files: { certificatePem: string, privateKeyPem: string }, opts: { force: boolean }): Promise<CaFiles> {
  const paths = caFilesIn(caDir)
  await mkdir(caDir, { recursive: true, mode: 0o700 })
  if (!opts.force) {
    for (const path of [paths.privateKey, paths.certificate]) {
      if (await exists(path)) throw new CaExistsError(path)
    }
  }
  await writeAtomically(paths.privateKey, files.privateKeyPem, 0o600)
  await writeAtomically(paths.certificate, files.certificatePem, 0o644)
  return paths
}

/** What loadCaFiles found. */
export interface LoadedCa {
  ca: CertificateAuthority
  files: CaFiles
  /** The key file's permission bits: anything beyond 0600 is worth a warning. */
  keyMode: number
}

/** The CA of `caDir`, or a ConfigError that tells the user how to make one. */
export async function loadCaFiles (caDir: string): Promise<LoadedCa> {
  const files = caFilesIn(caDir)
  let certificatePem: string
  let privateKeyPem: string
  let keyMode: number
  try {
    certificatePem = await readFile(files.certificate, 'utf8')
    privateKeyPem = await readFile(files.privateKey, 'utf8')
    keyMode = (await stat(files.privateKey)).mode & 0o777
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new ConfigError(`HTTPS interception is configured but there is no CA in ${caDir}: run \`damselfly ca init\` (with the same --data-dir or --ca-dir) first`, { cause: error })
    }
    throw new ConfigError(`cannot read the CA in ${caDir}: ${(error as Error).message}`, { cause: error })
  }
  try {
    return { ca: await parseCertificateAuthority(certificatePem, privateKeyPem), files, keyMode }
  } catch (error) {
    throw new ConfigError(`the CA in ${caDir} is unusable (${(error as Error).message}): make a new one with \`damselfly ca init --force\``, { cause: error })
  }
}

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return false
    throw error
  })
}

async function writeAtomically (path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const handle = await open(temporary, 'wx', mode)
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temporary, path)
  } catch (error) {
    await unlink(temporary).catch(() => {})
    throw error
  }
}
