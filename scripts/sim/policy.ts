/**
 * The two scheduling policies the simulator compares.
 * - `today`: what src/task/swarm-download.ts does now: whole 4 MiB pieces stored and forwarded,
 *   4 requests in flight per peer, `have` batched every 200 ms and gossiped on the task topic,
 *   holder bitmaps polled every second and a holder search every 10 s, two seeds, origin after a
 *   10 s stall, seeds announcing everything to everyone.
 * - `rate`: the decisions in src/scheduling/ built for issue 12: relay units of `unitKiB`
 *   (cut-through of verified blocks), in-flight window from rate × latency (requestWindow),
 *   peers ranked by rate (rankByRate), super-seeding (SuperSeeder), origin fallback from rates
 *   (originFallback), seed count from the origin's per-connection rate (adaptiveSeedCount),
 *   uploaders that refuse beyond a short backlog (admitUpload), and
 *   `have` sent straight to connected peers (no gossip, no polling).
 */
export type PolicyName = 'today' | 'rate'

export interface Policy {
  name: PolicyName
  /** Relay unit: what must arrive whole before it can be passed on. */
  unitBytes: number
  /** Fixed in-flight requests per peer; undefined: from requestWindow. */
  fixedWindow: number | undefined
  haveFlushMs: number
  /** `have` on the task's gossip topic (true) or to connected peers only (false). */
  gossipHaves: boolean
  /** Meta polling of known holders every tick, holder search every `searchEveryTicks`. */
  pollHolders: boolean
  searchEveryTicks: number
  /** Task announcements gossiped on the cluster-wide topic. */
  gossipAnnounce: boolean
  superSeed: boolean
  adaptiveSeeds: boolean
  /** Origin after a fixed stall (ms) or from rates (undefined). */
  fixedStallMs: number | undefined
  rankByRate: boolean
  /** Uploaders refuse requests beyond this backlog (admitUpload); undefined: queue them all. */
  maxBacklogMs: number | undefined
  /** The backlog bound scales with the requester's urgency (slow links first). */
  urgency: boolean
  tickMs: number
}

export function policyOf (name: PolicyName, unitKiB: number): Policy {
  if (name === 'today') {
    return {
      name,
      unitBytes: 4 * 1024 * 1024,
      fixedWindow: 4,
      haveFlushMs: 200,
      gossipHaves: true,
      pollHolders: true,
      searchEveryTicks: 10,
      gossipAnnounce: true,
      superSeed: false,
      adaptiveSeeds: false,
      fixedStallMs: 10_000,
      rankByRate: false,
      maxBacklogMs: undefined,
      urgency: false,
      tickMs: 1000
    }
  }
  return {
    name,
    unitBytes: unitKiB * 1024,
    fixedWindow: undefined,
    haveFlushMs: 20,
    gossipHaves: false,
    pollHolders: false,
    searchEveryTicks: 0,
    gossipAnnounce: false,
    superSeed: true,
    adaptiveSeeds: true,
    fixedStallMs: undefined,
    rankByRate: true,
    maxBacklogMs: 500,
    urgency: false,
    tickMs: 500
  }
}
