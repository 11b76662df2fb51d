/**
 * The example messages that scripts/record-golden.ts writes: every message type and variant,
 * built the way this release's senders build them. Values are fixed (no clock, no randomness)
 * so that recording twice gives the same files.
 */
import { createHash } from 'node:crypto'
import { Bitmap } from '../../src/storage/bitmap.js'

export type MessageKind = 'metaRequest' | 'metaResponse' | 'pieceRequest' | 'pieceResponse' | 'fetchRequest' | 'fetchResponse' | 'gossipMessage'

export interface GoldenExample {
  name: string
  message: unknown
}

/** One file under test/golden/<release>/: the examples of one message type. */
export interface GoldenFile {
  release: string
  kind: MessageKind
  /** The protocol id(s) or gossip topic(s) the message travels on in that release. */
  carriedOn: string
  examples: GoldenExample[]
}

const MiB = 1024 * 1024
const sha = (text: string): string => createHash('sha256').update(text).digest('hex')

export function goldenExamples (): Record<MessageKind, GoldenExample[]> {
  const key = `sha256:${sha('model.safetensors bytes')}`
  const task = sha(key)
  const length = 10 * MiB + 12_345
  const pieceSize = 4 * MiB
  const half = new Bitmap(3)
  half.set(0)
  half.set(2)
  const full = new Bitmap(3)
  for (let piece = 0; piece < 3; piece++) full.set(piece)
  const digests = [sha('piece 0'), sha('piece 1'), sha('piece 2')]
  const headers = { 'content-type': 'application/octet-stream', 'x-repo-commit': 'a'.repeat(40), 'accept-ranges': 'bytes' }
  // TaskManager.metadata: etag and private only when set.
  const partial = { task, key, length, pieceSize, headers, bitmap: half.toBase64(), digests: [digests[0], null, digests[2]], complete: false }
  const complete = { task, key, length, pieceSize, etag: '"0123456789abcdef"', headers, bitmap: full.toBase64(), digests, complete: true }
  const privateCopy = { ...complete, private: true }
  // From 1.1.0: 1 MiB blocks, a Merkle root per held piece.
  const withBlocks = { ...partial, blockSize: MiB, roots: [sha('root 0'), null, sha('root 2')] }
  const elected = ['12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc9', '12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F9aHQwXdDfeYnH']
  const url = 'https://cdn-lfs.hf.co/repos/ab/cd/model.safetensors?X-Amz-Signature=0f0f'
  return {
    // requestMeta
    metaRequest: [{ name: 'ask for a task', message: { task } }],
    // handleMeta
    metaResponse: [
      { name: 'partial holder', message: { ok: true, meta: partial } },
      { name: 'complete holder with etag', message: { ok: true, meta: complete } },
      { name: 'private copy', message: { ok: true, meta: privateCopy } },
      { name: 'partial holder with block roots (1.1.0)', message: { ok: true, meta: withBlocks } },
      { name: 'unknown task', message: { ok: false, reason: 'unknown-task' } }
    ],
    // SwarmDownload via Swarm.block
    pieceRequest: [
      { name: 'first block', message: { task, piece: 0, offset: 0, length: 4 * MiB } },
      { name: 'last, short block', message: { task, piece: 2, offset: 0, length: length - 2 * pieceSize } }
    ],
    // handlePiece
    pieceResponse: [
      { name: 'block with the piece digest', message: { ok: true, length: 4 * MiB, digest: digests[0] } },
      { name: 'block without a digest', message: { ok: true, length: 4 * MiB } },
      { name: 'block with its block sha256s (1.1.0)', message: { ok: true, length: 4 * MiB, digest: digests[0], blocks: [sha('block 0'), sha('block 1'), sha('block 2'), sha('block 3')] } },
      { name: 'missing piece', message: { ok: false, reason: 'missing' } },
      { name: 'block too large', message: { ok: false, reason: 'bad-request' } }
    ],
    // TaskManager.askSeed and the preheater (warm-task)
    fetchRequest: [
      { name: 'proxy miss, elected share', message: { task, key, url, headers: { 'user-agent': 'huggingface_hub/0.30', accept: '*/*' }, share: { elected } } },
      { name: 'client with credentials: private', message: { task, key, url, headers: { 'user-agent': 'curl/8.5' }, share: { elected }, private: true } },
      { name: 'preheat', message: { task, key, url, headers: {}, share: { elected: [elected[0]] } } }
    ],
    // handleFetch
    fetchResponse: [
      { name: 'seed has the task', message: { ok: true, meta: partial } },
      { name: 'origin said 404', message: { ok: false, reason: 'origin-status', status: 404, message: 'origin answered 404' } },
      { name: 'origin unreachable', message: { ok: false, reason: 'origin-unreachable', message: 'connect ECONNREFUSED 127.0.0.1:443' } },
      { name: 'not a seed', message: { ok: false, reason: 'error', message: 'this node is not a seed' } }
    ],
    // Swarm.announceTask, withdrawTask, announceHave
    gossipMessage: [
      { name: 'task held by a peer', message: { type: 'task', task, complete: false, seed: false } },
      { name: 'task complete on a seed', message: { type: 'task', task, complete: true, seed: true } },
      { name: 'withdraw', message: { type: 'withdraw', task } },
      { name: 'have with digests', message: { type: 'have', task, pieces: [0, 2], digests: [digests[0], digests[2]] } },
      { name: 'have without digests', message: { type: 'have', task, pieces: [1] } }
    ]
  }
}
