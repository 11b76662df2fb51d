import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DownloadError } from '../errors.js'
import type { NodeResponse } from './node-client.js'

export interface Expected {
  size?: number
  /** The bytes' sha256 (an LFS oid). */
  sha256?: string
  /** The git blob sha1 of the bytes (a non-LFS file's ETag on the Hub). */
  gitSha1?: string
}

export interface SaveInit {
  /** How messages name the file. */
  label: string
  destination: string
  expected: Expected
  onBytes: (count: number) => void
}

export interface Saved {
  size: number
  sha256: string
}

/**
 * Streams a 200 response into `destination` through a temporary file beside it, renamed into
 * place only once the length (and the sha256 or git sha1, when known) checks out: a download
 * that breaks off or arrives corrupt never leaves a complete-looking file.
 */
export async function saveResponse (response: NodeResponse, init: SaveInit, signal: AbortSignal): Promise<Saved> {
  const { label, destination, expected } = init
  const announced = parseLength(response.headers['content-length'])
  const length = expected.size ?? announced
  if (expected.size !== undefined && announced !== undefined && announced !== expected.size) {
    response.body.destroy()
    throw new DownloadError(`${label}: the node announced ${announced} bytes, the Hub lists ${expected.size}`)
  }
  const sha256 = createHash('sha256')
  // Git hashes a blob with its length in front, so the check needs the length up front.
  const gitSha1 = expected.gitSha1 !== undefined && length !== undefined ? createHash('sha1').update(`blob ${length}\0`) : undefined
  let received = 0
  const meter = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      sha256.update(chunk)
      gitSha1?.update(chunk)
      received += chunk.length
      init.onBytes(chunk.length)
      callback(null, chunk)
    }
  })
  await mkdir(dirname(destination), { recursive: true })
  const temporary = join(dirname(destination), `.${basename(destination)}.${randomBytes(4).toString('hex')}.incomplete`)
  try {
    const file = createWriteStream(temporary)
    let writeFailed = false
    file.once('error', () => { writeFailed = true })
    try {
      await pipeline(response.body, meter, file, { signal })
    } catch (error) {
      if (signal.aborted) throw error
      const where = writeFailed ? `cannot write ${destination}` : 'the download broke off'
      throw new DownloadError(`${label}: ${where} after ${received}${length !== undefined ? ` of ${length}` : ''} bytes: ${(error as Error).message}`, { cause: error })
    }
    if (length !== undefined && received !== length) {
      throw new DownloadError(`${label}: the download broke off: ${received} of ${length} bytes arrived`)
    }
    const digest = sha256.digest('hex')
    if (expected.sha256 !== undefined && digest !== expected.sha256) {
      throw new DownloadError(`${label}: sha256 ${digest} does not match the Hub's ${expected.sha256}`)
    }
    const blobId = gitSha1?.digest('hex')
    if (blobId !== undefined && blobId !== expected.gitSha1) {
      throw new DownloadError(`${label}: git blob id ${blobId} does not match the Hub's ${expected.gitSha1 ?? ''}`)
    }
    await rename(temporary, destination)
    return { size: received, sha256: digest }
  } catch (error) {
    await unlink(temporary).catch(() => {})
    throw error
  }
}

function parseLength (value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined
  return Number(value)
}
