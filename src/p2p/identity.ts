import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { StorageError } from '../errors.js'

/** The node's Ed25519 key, kept in the data dir so its peer id survives restarts. */
export async function loadOrCreateIdentity (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, 'identity.key')
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new StorageError(`cannot read the node identity at ${path}; remove it to make a new one`, { cause: error })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dirname(path), { recursive: true })
  const temporary = `${path}.tmp`
  await writeFile(temporary, privateKeyToProtobuf(key), { mode: 0o600 })
  await chmod(temporary, 0o600)
  await rename(temporary, path)
  return key
}
