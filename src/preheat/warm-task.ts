import { setTimeout as sleep } from 'node:timers/promises'
import { PreheatError } from '../errors.js'
import type { FetchRequest, FetchResponse, TaskMetadata } from '../p2p/messages.js'
import { electForColdTask } from '../scheduling/rendezvous.js'
import { Bitmap } from '../storage/bitmap.js'
import { PiecePlan } from '../task/piece-plan.js'
import type { TaskKey } from '../task/task-key.js'
import type { AcquiredTask, TaskRequest } from '../task/task-manager.js'

/** What warming needs of the swarm: who the seeds are, and asking them. */
export interface WarmSwarm {
  readonly peerId: string
  liveSeeds: () => Promise<string[]>
  fetchFromSeed: (seed: string, request: FetchRequest, signal: AbortSignal) => Promise<FetchResponse>
  meta: (peer: string, taskId: string, signal: AbortSignal) => Promise<TaskMetadata | undefined>
}

/** What warming needs of this node's own tasks (when it is a seed, or no seed is in reach). */
export interface WarmTasks {
  acquire: (request: TaskRequest, signal: AbortSignal) => Promise<AcquiredTask>
  fetchForPeer: (request: FetchRequest, signal: AbortSignal) => Promise<TaskMetadata>
  metadata: (taskId: string) => TaskMetadata | undefined
}

export interface WarmTaskComponents {
  swarm: WarmSwarm
  tasks: WarmTasks
}

export interface WarmTaskInit {
  key: TaskKey
  /** The signed CDN URL the Hub redirected to: it needs no token, so seeds may fetch it. */
  url: string
  /** Told the bytes the warming nodes hold between them, as they grow. */
  onProgress: (warmedBytes: number) => void
  /** How often the seeds are asked how far they are. @default 500 */
  pollMs?: number
  /** The file fails when the seeds gain no byte for this long. @default 60000 */
  stallMs?: number
  /** How long to wait for a seed to be connected before warming this node instead. @default 10000 */
  seedWaitMs?: number
}

const fetchAttempts = 3

/**
 * Has the seeds that every node would elect for this task fetch it, exactly as a cold request
 * would (each its share from the origin, the rest from each other), and waits until each holds
 * the whole file. This node takes part when it is elected; with no seed in reach it warms its
 * own cache instead. Returns the peer ids that now hold the file.
 */
export async function warmTask (components: WarmTaskComponents, init: WarmTaskInit, signal: AbortSignal): Promise<string[]> {
  const { swarm, tasks } = components
  const self = swarm.peerId
  const elected = electForColdTask(init.key.key, await liveSeedsSoon(swarm, init.seedWaitMs ?? 10_000, signal))
  if (elected.length === 0) {
    await tasks.acquire({ key: init.key, source: { url: init.url, headers: {} } }, signal)
  } else {
    const request: FetchRequest = { task: init.key.id, key: init.key.key, url: init.url, headers: {}, share: { elected } }
    await Promise.all(elected.map(async (seed) => {
      const answer: FetchResponse = seed === self
        ? { ok: true, meta: await tasks.fetchForPeer(request, signal) }
        : await askWithRetries(swarm, seed, request, signal)
      if (!answer.ok) {
        const status = answer.status === undefined ? '' : ` (origin status ${answer.status})`
        throw new PreheatError(`seed ${seed} could not fetch the file: ${answer.reason}${status}: ${answer.message ?? ''}`)
      }
    }))
  }
  const holders = elected.length === 0 ? [self] : elected
  await waitUntilHeld(components, init, holders, signal)
  return holders
}

/** The live seeds; none at first may be a connection being re-made, so look again for a while. */
async function liveSeedsSoon (swarm: WarmSwarm, waitMs: number, signal: AbortSignal): Promise<string[]> {
  const deadline = Date.now() + waitMs
  for (;;) {
    const seeds = await swarm.liveSeeds()
    if (seeds.length > 0 || Date.now() >= deadline) return seeds
    await sleep(1000, undefined, { signal })
  }
}

/**
 * A fetch request to another seed. A stream reset or a timeout says nothing about the file
 * (a loaded host, a connection being replaced): ask again, twice, after 1 s and 2 s.
 */
async function askWithRetries (swarm: WarmSwarm, seed: string, request: FetchRequest, signal: AbortSignal): Promise<FetchResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await swarm.fetchFromSeed(seed, request, signal)
    } catch (error) {
      if (signal.aborted) throw error
      if (attempt >= fetchAttempts) {
        throw new PreheatError(`seed ${seed} could not be asked to fetch the file (${fetchAttempts} attempts): ${error instanceof Error ? error.message : String(error)}`, { cause: error })
      }
      await sleep(1000 * attempt, undefined, { signal })
    }
  }
}

async function waitUntilHeld (components: WarmTaskComponents, init: WarmTaskInit, holders: string[], signal: AbortSignal): Promise<void> {
  const stallMs = init.stallMs ?? 60_000
  let best = -1
  // A stall is no seed gaining a piece, not the bytes between them standing still: once every
  // byte is on some seed, the others still copy it from there (under load, for a while).
  let bestCopies = -1
  let lastGain = Date.now()
  for (;;) {
    const metas = await Promise.all(holders.map(async peer => peer === components.swarm.peerId
      ? components.tasks.metadata(init.key.id)
      : await components.swarm.meta(peer, init.key.id, signal).catch(() => undefined)))
    const { between: warmed, copies } = held(metas)
    if (warmed > best) {
      best = warmed
      init.onProgress(warmed)
    }
    if (copies > bestCopies) {
      bestCopies = copies
      lastGain = Date.now()
    }
    if (metas.every(meta => meta?.complete === true)) return
    if (Date.now() - lastGain > stallMs) {
      throw new PreheatError(`the seeds gained no byte of the file for ${Math.round(stallMs / 1000)} s`)
    }
    await sleep(init.pollMs ?? 500, undefined, { signal })
  }
}

/** Bytes of the pieces that at least one of the holders has (`between`), and that each has, added up (`copies`). */
function held (metas: Array<TaskMetadata | undefined>): { between: number, copies: number } {
  const known = metas.filter((meta): meta is TaskMetadata => meta !== undefined)
  const first = known[0]
  if (first === undefined) return { between: 0, copies: 0 }
  const plan = new PiecePlan(first.length, first.pieceSize)
  const bitmaps = known.map(meta => Bitmap.fromBase64(plan.pieceCount, meta.bitmap))
  let between = 0
  let copies = 0
  for (let piece = 0; piece < plan.pieceCount; piece++) {
    const holding = bitmaps.filter(bitmap => bitmap.has(piece)).length
    if (holding > 0) between += plan.size(piece)
    copies += holding * plan.size(piece)
  }
  return { between, copies }
}
