import type { TaskFile } from '../../src/storage/task-files.js'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { Uint8ArrayList } from 'uint8arraylist'
import { AbortedError } from '../../src/errors.js'
import type { OriginSource, ProbeResult, RangeSink } from '../../src/origin/origin-client.js'
import type { FetchRequest, FetchResponse, TaskMetadata } from '../../src/p2p/messages.js'
import type { Holder } from '../../src/p2p/swarm.js'
import type { TaskStore } from '../../src/storage/task-files.js'
import type { TaskMeta } from '../../src/storage/task-meta.js'
import { Bitmap } from '../../src/storage/bitmap.js'
import { PiecePlan } from '../../src/task/piece-plan.js'
import { lfsTaskKey, type TaskKey } from '../../src/task/task-key.js'
import type { TaskManagerComponents, TaskSwarm } from '../../src/task/task-manager.js'

/**
 * In-memory stand-ins for what the task parts need of the world (src/task/*Components): an
 * origin that serves one content, and a swarm of holders that serve pieces of it. No sockets,
 * no nodes: the download core runs against them as it runs against the real ones.
 */

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** Deterministic bytes (a counter hashed block by block): the same content in every run. */
export function contentOf (length: number, seed = 'damselfly'): Buffer {
  const content = Buffer.alloc(length)
  for (let offset = 0, block = 0; offset < length; offset += 32, block++) {
    createHash('sha256').update(`${seed}:${block}`).digest().copy(content, offset)
  }
  return content
}

/** The content-addressed key of `content` (a Hub LFS file): its whole-file sha256 is checked. */
export function keyOf (content: Uint8Array): TaskKey {
  return lfsTaskKey(sha256Hex(content))
}

export type FakeOrigin = TaskManagerComponents['origin'] & {
  /** Bytes the origin serves; a test may swap them (a lying origin, then a fixed one). */
  content: Buffer
  probes: number
  /** Bytes sent by ranged GETs and whole bodies. */
  bytesServed: number
  /** Each probe waits for this first, when set (so that a test can line requests up). */
  gate?: Promise<void>
  /** Resolves at the first probe. */
  probed: Promise<void>
}

/**
 * An origin that serves `content`: the probe learns its length; pieces come through `readRange`
 * (the ranged path), or, with `wholeBody`, the probe's answer carries the whole body (an origin
 * that ignores Range).
 */
export function fakeOrigin (content: Buffer, init: { wholeBody?: boolean } = {}): FakeOrigin {
  let onProbe!: () => void
  const origin: FakeOrigin = {
    content,
    probes: 0,
    bytesServed: 0,
    probed: new Promise(resolve => { onProbe = resolve }),
    probe: async (source: OriginSource, signal: AbortSignal): Promise<ProbeResult> => {
      origin.probes++
      onProbe()
      if (origin.gate !== undefined) await origin.gate
      if (signal.aborted) throw new AbortedError()
      const result: ProbeResult = { length: origin.content.length, headers: { 'content-type': 'application/octet-stream' }, finalSource: source }
      if (init.wholeBody === true) {
        origin.bytesServed += origin.content.length
        result.wholeBody = Readable.from(chunksOf(origin.content, 100_000))
      }
      return result
    },
    readRange: async (_source: OriginSource, start: number, end: number, _length: number, sink: RangeSink, signal: AbortSignal): Promise<void> => {
      let resume: (() => void) | undefined
      sink.started({ resume: () => { resume?.() }, abort: () => {} })
      for (const chunk of chunksOf(origin.content.subarray(start, end + 1), 64 * 1024)) {
        if (signal.aborted) throw new AbortedError()
        origin.bytesServed += chunk.length
        // The sink copies what it keeps: hand it a fresh copy, as undici hands its own memory.
        if (!sink.data(Buffer.from(chunk))) await new Promise<void>(resolve => { resume = resolve })
      }
    },
    retrying: async <T>(_signal: AbortSignal, attempt: () => Promise<T>): Promise<T> => await attempt(),
    close: async () => {}
  }
  return origin
}

function * chunksOf (bytes: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size)
}

/** Digests of each piece of `content`, null where `held` leaves it out. */
function pieceDigests (content: Buffer, plan: PiecePlan, held: readonly number[]): Array<string | null> {
  return Array.from({ length: plan.pieceCount }, (_, index) => held.includes(index) ? sha256Hex(content.subarray(plan.start(index), plan.start(index) + plan.size(index))) : null)
}

/**
 * The stored metadata of a task of `content` holding `held` (none by default), its whole-file
 * sha256 `sha256` (that of `content` by default), not verified, without block size (as 0.1.0
 * wrote it) unless `blockSize` is given.
 */
export function taskMetaOf (content: Buffer, pieceSize: number, init: { held?: number[], sha256?: string, blockSize?: number } = {}): TaskMeta {
  const sha256 = init.sha256 ?? sha256Hex(content)
  const key = lfsTaskKey(sha256)
  const plan = new PiecePlan(content.length, pieceSize)
  const held = init.held ?? []
  const bitmap = new Bitmap(plan.pieceCount)
  for (const index of held) bitmap.set(index)
  const meta: TaskMeta = { version: 1, id: key.id, key: key.key, url: 'http://origin.invalid/f', length: content.length, pieceSize, headers: {}, bitmap: bitmap.toBase64(), digests: pieceDigests(content, plan, held), sha256, createdAt: 1, lastAccessAt: 1 }
  if (init.blockSize !== undefined) meta.blockSize = init.blockSize
  return meta
}

/** What a peer holding `pieces` (all by default) of `content` says of it. */
export function holderMeta (content: Buffer, pieceSize: number, pieces?: number[]): TaskMetadata {
  const key = keyOf(content)
  const plan = new PiecePlan(content.length, pieceSize)
  const held = pieces ?? Array.from({ length: plan.pieceCount }, (_, index) => index)
  const bitmap = new Bitmap(plan.pieceCount)
  for (const index of held) bitmap.set(index)
  return { task: key.id, key: key.key, length: content.length, pieceSize, headers: {}, bitmap: bitmap.toBase64(), digests: pieceDigests(content, plan, held), complete: bitmap.complete }
}

export interface FakeSwarmInit {
  peerId?: string
  /** This node is a seed: it counts itself among the live seeds. @default false */
  seed?: boolean
  /** Other seeds in reach. @default [] */
  seeds?: string[]
  /** Peers holding (part of) the task, and the bytes each serves. @default [] */
  holders?: Array<Holder & { content: Buffer }>
  /** Peers (this node's id included) that speak only wire 1.0.0, as release 0.1.0. @default [] */
  wire10Only?: string[]
  /** How a seed answers a fetch request. @default refuses */
  fetchFromSeed?: (seed: string, request: FetchRequest) => Promise<FetchResponse>
}

export type FakeSwarm = TaskSwarm & {
  /** Fetch requests sent to seeds, by seed. */
  asked: string[]
  /** Blocks served, by holder. */
  blocksFrom: Map<string, number>
  announced: Array<{ task: string, complete: boolean }>
  withdrawn: string[]
}

/** A swarm of in-memory holders: `findHolders` lists them, `block` serves their bytes. */
export function fakeSwarm (init: FakeSwarmInit = {}): FakeSwarm {
  const self = init.peerId ?? 'self'
  const holders = init.holders ?? []
  const swarm: FakeSwarm = {
    asked: [],
    blocksFrom: new Map(),
    announced: [],
    withdrawn: [],
    peerId: self,
    findHolders: async () => holders.map(({ peer, meta }) => ({ peer, meta })),
    liveSeeds: async () => [...(init.seed === true ? [self] : []), ...(init.seeds ?? [])],
    speaksWire: (peer, version) => version === '1.0.0' || !(init.wire10Only ?? []).includes(peer),
    fetchFromSeed: async (seed, request) => {
      swarm.asked.push(seed)
      const refused: FetchResponse = { ok: false, reason: 'error', message: 'not a seed' }
      return init.fetchFromSeed === undefined ? refused : await init.fetchFromSeed(seed, request)
    },
    meta: async (peer) => holders.find(holder => holder.peer === peer)?.meta,
    block: async (peer, request) => {
      const holder = holders.find(candidate => candidate.peer === peer)
      if (holder === undefined || !Bitmap.fromBase64(holder.meta.digests.length, holder.meta.bitmap).has(request.piece)) return undefined
      swarm.blocksFrom.set(peer, (swarm.blocksFrom.get(peer) ?? 0) + 1)
      const start = request.piece * holder.meta.pieceSize + request.offset
      const digest = holder.meta.digests[request.piece] ?? undefined
      return { data: new Uint8ArrayList(Buffer.from(holder.content.subarray(start, start + request.length))), ...(digest === undefined ? {} : { digest }) }
    },
    connectedPeers: () => holders.map(holder => holder.peer),
    speaks: () => true,
    onHave: () => () => {},
    announceHave: () => {},
    announceTask: (task, complete) => { swarm.announced.push({ task, complete }) },
    withdrawTask: (task) => { swarm.withdrawn.push(task) }
  }
  return swarm
}

/** The raw bytes a store holds for a task (unverified: for asserting what a download wrote). */
export async function storedBytes (store: Pick<TaskStore, 'open'>, id: string, length: number): Promise<Buffer> {
  const file = await store.open(id, 'read')
  try {
    const bytes = Buffer.alloc(length)
    for (let done = 0; done < length;) {
      const read = await file.read(bytes.subarray(done), done)
      if (read === 0) throw new Error(`task ${id} ends at ${done} of ${length} bytes`)
      done += read
    }
    return bytes
  } finally {
    await file.close()
  }
}

/** A task's file whose reads are counted: what the whole-file check read back. */
export function countedReads (file: TaskFile): { file: TaskFile, bytesRead: () => number } {
  let bytesRead = 0
  const wrapped: TaskFile = Object.assign(Object.create(file) as TaskFile, {
    read: async (buffer: Buffer, position: number) => {
      const read = await file.read(buffer, position)
      bytesRead += read
      return read
    }
  })
  return { file: wrapped, bytesRead: () => bytesRead }
}
