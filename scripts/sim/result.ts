/**
 * One simulated run's figures: completion times against T*, origin bytes, control messages per
 * node per second (by kind), and what the run cost.
 */
import { gossipDLazy, type ControlKind, type ControlLedger } from './control.js'
import type { SimConfig } from './swarm-sim.js'

export interface SimResult {
  hosts: number
  policy: string
  profile: string
  churn: number
  units: number
  unitBytes: number
  seeds: number
  tStarMs: number
  medianMs: number
  p90Ms: number
  /** Infinity (null in JSON) when a host that stayed did not finish. */
  lastMs: number
  medianRatio: number
  lastRatio: number
  originRatio: number
  finished: number
  departed: number
  unfinished: number
  controlPerNodePerS: number
  controlByKind: Record<ControlKind, number>
  events: number
  wallMs: number
}

export interface RunRecord {
  config: SimConfig
  hosts: ReadonlyArray<{ doneAt: number | undefined, leftAt: number | undefined }>
  ledger: ControlLedger
  units: number
  unitBytes: number
  seeds: number
  tStarMs: number
  endMs: number
  originBytes: number
  events: number
  wallMs: number
}

export function summarise (run: RunRecord): SimResult {
  const { config, hosts, ledger, tStarMs, endMs } = run
  const times = hosts.filter(host => host.leftAt === undefined && host.doneAt !== undefined).map(host => host.doneAt!).sort((a, b) => a - b)
  const departed = hosts.filter(host => host.leftAt !== undefined).length
  const unfinished = hosts.filter(host => host.leftAt === undefined && host.doneAt === undefined).length
  const quantile = (share: number): number => times.length === 0 ? Number.NaN : times[Math.min(times.length - 1, Math.floor(share * (times.length - 1)))]!
  const lastMs = unfinished > 0 ? Number.POSITIVE_INFINITY : quantile(1)
  // Gossipsub heartbeats carry IHAVE to D_lazy peers while a topic has recent messages.
  if (config.policy.gossipHaves || config.policy.gossipAnnounce) ledger.sent.ihave += config.hosts * gossipDLazy * (endMs / 1000)
  const perNodePerS = (count: number): number => count / config.hosts / (endMs / 1000)
  const controlByKind = Object.fromEntries(Object.entries(ledger.sent).map(([kind, count]) => [kind, round(perNodePerS(count))])) as Record<ControlKind, number>
  return {
    hosts: config.hosts,
    policy: config.policy.name,
    profile: config.profile,
    churn: config.churn,
    units: run.units,
    unitBytes: run.unitBytes,
    seeds: run.seeds,
    tStarMs: round(tStarMs),
    medianMs: round(quantile(0.5)),
    p90Ms: round(quantile(0.9)),
    lastMs: round(lastMs),
    medianRatio: round(quantile(0.5) / tStarMs),
    lastRatio: round(lastMs / tStarMs),
    originRatio: round(run.originBytes / config.fileBytes),
    finished: times.length,
    departed,
    unfinished,
    controlPerNodePerS: round(perNodePerS(ledger.total)),
    controlByKind,
    events: run.events,
    wallMs: Math.round(run.wallMs)
  }
}

function round (value: number): number {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : value
}
