import type { Logger } from '../logging/logger.js'
import { withoutCredentials } from '../origin/http-headers.js'
import type { OriginClient, ProbeResult } from '../origin/origin-client.js'
import type { FetchResponse } from '../p2p/messages.js'
import type { Holder, Swarm } from '../p2p/swarm.js'
import { electForColdTask, shareOf } from '../scheduling/rendezvous.js'
import type { PieceRule } from './piece-plan.js'
import type { OriginPlan } from './swarm-download.js'
import type { TaskRequest } from './task-registry.js'

/** Length, validator and headers of a content, from the origin's probe or a peer's metadata. */
export interface ContentShape {
  length: number
  pieceSize?: number
  etag?: string
  headers: Record<string, string>
  /** A peer's copy was private: ours is too. */
  private?: boolean
}

/** How a download is to be run once the task exists. */
export interface DownloadPlan {
  probe?: ProbeResult
  holders: Holder[]
  /** Pieces fetched from the origin at once; computed when the piece count is known. */
  origin: (pieceCount: number) => OriginPlan
  /** The other elected seeds, fetching the other shares. */
  partners?: string[]
  /** The seeds elected for the task (us among them or not): whose share a gone seed's pieces go to. */
  elected?: string[]
  /**
   * How to size pieces if this node creates the task (no holder's metadata to adopt): `classic`
   * when one of the elected seeds (or this node) speaks only wire 1.0.0, so that every seed
   * creating the task at once cuts it alike (piece-plan.ts). @default 'pipelined'
   */
  pieceRule?: PieceRule
}

export interface PlannedDownload {
  plan: DownloadPlan
  shape: ContentShape
}

/** What planning needs of the swarm: who holds a task, who the seeds are, and asking them. */
export type PlannerSwarm = Pick<Swarm, 'peerId' | 'findHolders' | 'liveSeeds' | 'fetchFromSeed' | 'speaksWire'>

export interface SourcePlannerComponents {
  origin: Pick<OriginClient, 'probe'>
  swarm: PlannerSwarm
  /** The task's last copy failed its sha256 check: it must come from the origin alone. */
  mustRefetch: (id: string) => boolean
  logger: Logger
}

/** How long an elected seed may take to answer a fetch request. */
const seedAnswerMs = 30_000

/**
 * Decides where a new download's content comes from and who fetches what: a peer holding the
 * whole task (no origin traffic at all), the elected seeds (cold start), or the origin itself.
 */
export class SourcePlanner {
  private readonly components: SourcePlannerComponents
  private readonly log: Logger

  constructor (components: SourcePlannerComponents) {
    this.components = components
    this.log = components.logger.forComponent('tasks')
  }

  async plan (request: TaskRequest, signal: AbortSignal): Promise<PlannedDownload> {
    const { swarm } = this.components
    const fromOrigin = async (origin: (pieceCount: number) => OriginPlan, holders: Holder[] = [], cutters: string[] = [swarm.peerId]): Promise<PlannedDownload> => {
      const probe = await this.components.origin.probe(request.source, signal)
      return { plan: { probe, holders, origin, pieceRule: pieceRuleOf(swarm, cutters) }, shape: probe }
    }
    if (this.components.mustRefetch(request.key.id)) {
      this.log.info('refetching a task that failed its sha256 check from the origin', { task: request.key.id })
      return await fromOrigin(() => 'all')
    }
    const self = swarm.peerId
    if (request.elected !== undefined) {
      const elected = request.elected
      const planned = await fromOrigin(pieceCount => new Set(shareOf(request.key.key, elected, self, pieceCount)), [], [...elected, self])
      return { ...planned, plan: { ...planned.plan, partners: elected.filter(seed => seed !== self), elected } }
    }
    const holders = await swarm.findHolders(request.key.id, signal)
    const complete = holders.find(holder => holder.meta.complete)
    if (complete !== undefined) return { plan: { holders, origin: () => 'none' }, shape: complete.meta }
    const live = await swarm.liveSeeds()
    const elected = electForColdTask(request.key.key, live)
    if (elected.includes(self)) {
      const others = elected.filter(seed => seed !== self)
      const planned = await fromOrigin(pieceCount => new Set(shareOf(request.key.key, elected, self, pieceCount)), holders, elected)
      for (const seed of others) void this.askSeed(seed, request, elected, signal)
      return { ...planned, plan: { ...planned.plan, partners: others, elected } }
    }
    if (elected.length > 0) {
      const answers = await Promise.all(elected.map(async seed => ({ seed, answer: await this.askSeed(seed, request, elected, signal) })))
      const accepted = answers.flatMap(({ seed, answer }) => answer?.ok === true ? [{ peer: seed, meta: answer.meta }] : [])
      if (accepted[0] !== undefined) return { plan: { holders: [...holders, ...accepted], origin: () => 'none', elected }, shape: accepted[0].meta }
      this.log.info('no elected seed could fetch the task: going to the origin', { task: request.key.id })
    }
    if (holders[0] !== undefined) return { plan: { holders, origin: () => 'all' }, shape: holders[0].meta }
    return await fromOrigin(() => 'all')
  }

  private async askSeed (seed: string, request: TaskRequest, elected: string[], signal: AbortSignal): Promise<FetchResponse | undefined> {
    try {
      return await this.components.swarm.fetchFromSeed(seed, {
        task: request.key.id,
        key: request.key.key,
        url: request.source.url,
        // Tokens go to the origin, never to peers.
        headers: withoutCredentials(request.source.headers),
        share: { elected },
        // The seed's copy must be guarded as ours is.
        ...(request.private === true ? { private: true } : {})
      }, AbortSignal.any([signal, AbortSignal.timeout(seedAnswerMs)]))
    } catch (error) {
      this.log.debug('seed did not answer a fetch request', { seed, error })
      return undefined
    }
  }
}

/** `pipelined` when every node that may cut the task at once (`cutters`) speaks wire 1.1.0. */
function pieceRuleOf (swarm: Pick<Swarm, 'speaksWire'>, cutters: readonly string[]): PieceRule {
  return cutters.every(peer => swarm.speaksWire(peer, '1.1.0')) ? 'pipelined' : 'classic'
}
