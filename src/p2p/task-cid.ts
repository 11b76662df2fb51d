import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'

const rawCodec = 0x55
const sha256Code = 0x12

/** The DHT key of a task: its id is already a sha256, so it is the multihash digest as is. */
export function taskCid (taskId: string): CID {
  return CID.createV1(rawCodec, Digest.create(sha256Code, Buffer.from(taskId, 'hex')))
}
