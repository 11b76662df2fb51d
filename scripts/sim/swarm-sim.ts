/**
 * One simulated download of one file by N hosts, driving the real scheduling code
 * (src/scheduling/) over the link model of links.ts. Every host runs what
 * src/task/swarm-download.ts runs: a PiecePicker per host, fed `have`s from its neighbours,
 * asked `next(peer)` while the peer's window has room; under the `rate` policy the window, the
 * peer order, the seeds' reveals, the origin fallback and the seed count come from the new
 * modules. Deterministic: one seeded random drives everything.
 */
import { PiecePicker } from '../../src/scheduling/piece-picker.js'
import { RateEstimator, ThroughputMeter } from '../../src/scheduling/rate-estimator.js'
import { requestWindow } from '../../src/scheduling/request-window.js'
import { rankByRate } from '../../src/scheduling/peer-choice.js'
import { SuperSeeder } from '../../src/scheduling/super-seed.js'
import { originFallback } from '../../src/scheduling/origin-fallback.js'
import { adaptiveSeedCount } from '../../src/scheduling/seed-count.js'
import { admitUpload, urgency } from '../../src/scheduling/upload-admission.js'
import { electSeeds, seedsToElect, shareOf } from '../../src/scheduling/rendezvous.js'
import { seededRandom } from '../../src/scheduling/seeded-random.js'
import { EventQueue } from './event-queue.js'
import { ControlLedger } from './control.js'
import { summarise, type SimResult } from './result.js'
import { connect, drawLinks, type BandwidthProfile, type HostLinks } from './hosts.js'
import { book, LinkCalendar, Origin } from './links.js'
import type { Policy } from './policy.js'

export type { SimResult } from './result.js'

export interface SimConfig {
  hosts: number
  fileBytes: number
  policy: Policy
  profile: BandwidthProfile
  /** Connections per host (average). */
  degree: number
  /** Hosts each seed of the pool is connected to. */
  seedDegree: number
  /** Seed nodes available (hosts 0..seedPool-1, 10/40 MB/s links). */
  seedPool: number
  /** Fraction of the non-seed hosts that leave for good at a random time in [0.1, 0.9] T*. */
  churn: number
  seed: number
  /** Origin: total upload and per-connection cap, bytes per ms; connections per fetcher. */
  originTotal: number
  originPerConnection: number
  originConnections: number
  /** Give up at this many T*. */
  maxTStar: number
}


interface Host {
  id: number
  name: string
  links: HostLinks
  cal: LinkCalendar
  neighbours: number[]
  picker: PiecePicker
  rates: RateEstimator
  meter: ThroughputMeter
  lastFrom: Map<number, number>
  /** Peers that answered busy, until when. */
  busyUntil: Map<number, number>
  held: Uint8Array
  heldCount: number
  doneAt: number | undefined
  leftAt: number | undefined
  pendingHave: number[]
  flushing: boolean
  lastSwarmProgress: number
  peerInFlight: number
  originInFlight: Set<number>
  originShare: number[]
  superSeeder: SuperSeeder | undefined
  announced: boolean
  /** EWMA of the ETAs requesters sent with their requests (for urgency). */
  meanRequesterEtaMs: number
}

export function simulate (config: SimConfig): SimResult {
  const started = performance.now()
  const { policy, fileBytes } = config
  const random = seededRandom(config.seed)
  const q = new EventQueue()
  const now = (): number => q.now
  const ledger = new ControlLedger()
  const unitBytes = Math.min(policy.unitBytes, fileBytes)
  const units = Math.ceil(fileBytes / unitBytes)
  const sizeOf = (unit: number): number => Math.min(unitBytes, fileBytes - unit * unitBytes)
  const origin = new Origin(config.originTotal, config.originPerConnection)
  let originBytes = 0

  const pool = Math.min(config.seedPool, config.hosts)
  const graph = connect(config.hosts, config.degree, pool, config.seedDegree, random)
  const hosts: Host[] = graph.map((neighbours, id) => {
    const links = id < pool ? { up: 10_000, down: 40_000, latencyMs: 0.5 + 4.5 * random() } : drawLinks(config.profile, random)
    const rates = new RateEstimator({ now })
    // The endgame judges a request late from the holder's measured rate, as the node does
    // (pickers name hosts `h<id>`, the estimator keys them by id; the origin is not measured).
    const measured = { bytesPerMs: (name: string) => name.startsWith('h') ? rates.rate(name.slice(1)) : undefined }
    return {
      id,
      name: `h${id}`,
      links,
      cal: new LinkCalendar(links.up, links.down),
      neighbours: [...neighbours].sort((a, b) => a - b),
      picker: new PiecePicker({ rates: measured }, { pieceCount: units, pieceBytes: sizeOf, maxInFlightPerPeer: policy.fixedWindow ?? 1_000_000, random, now, requestTimeoutMs: 1e12 }),
      rates,
      meter: new ThroughputMeter({ now }),
      lastFrom: new Map(),
      busyUntil: new Map(),
      held: new Uint8Array(units),
      heldCount: 0,
      doneAt: undefined,
      leftAt: undefined,
      pendingHave: [],
      flushing: false,
      lastSwarmProgress: 0,
      peerInFlight: 0,
      originInFlight: new Set(),
      originShare: [],
      superSeeder: undefined,
      announced: false,
      meanRequesterEtaMs: 0
    }
  })
  const names = hosts.map(host => host.name)
  const byName = new Map(hosts.map(host => [host.name, host]))

  // The fluid bound over all hosts.
  const upSum = hosts.reduce((sum, host) => sum + host.links.up, 0)
  const minDown = Math.min(...hosts.map(host => host.links.down))
  const tStarMs = Math.max(fileBytes / config.originTotal, fileBytes / minDown, config.hosts * fileBytes / (config.originTotal + upSum))

  let alive = config.hosts
  let wanting = config.hosts
  const alivePeers = (host: Host): number => host.neighbours.reduce((sum, id) => sum + (hosts[id]!.leftAt === undefined ? 1 : 0), 0)

  // ---- seed election ----------------------------------------------------------------------
  const poolNames = names.slice(0, pool)
  const seedCount = policy.adaptiveSeeds
    ? adaptiveSeedCount({
      pieceCount: units,
      liveSeeds: pool,
      originPerConnectionBytesPerMs: config.originPerConnection,
      connectionsPerSeed: config.originConnections,
      seedDownBytesPerMs: 40_000,
      seedUpBytesPerMs: 10_000,
      targetBytesPerMs: config.originTotal
    })
    : seedsToElect(units, pool)
  const elected = electSeeds('sim-task', poolNames, seedCount)
  for (const name of elected) {
    const seed = byName.get(name)!
    seed.originShare = shareOf('sim-task', elected, name, units)
    if (policy.superSeed) seed.superSeeder = new SuperSeeder({ pieceCount: units, perPeer: 1, random })
  }

  // ---- moving units -----------------------------------------------------------------------
  const latency = (a: Host, b: Host): number => a.links.latencyMs + b.links.latencyMs

  const windowOf = (host: Host, peer: Host): number => policy.fixedWindow ?? requestWindow(
    { bytesPerMs: host.rates.rate(peer.id.toString()), rttMs: host.rates.rtt(peer.id.toString()) },
    { unitBytes, initial: 2, max: 32 })

  /** `host` asks `peer` for as much as the peer's window allows. */
  const fill = (host: Host, peer: Host): void => {
    if (host.leftAt !== undefined || host.doneAt !== undefined || peer.leftAt !== undefined) return
    if ((host.busyUntil.get(peer.id) ?? 0) > q.now) return
    const limit = windowOf(host, peer)
    while (host.picker.inFlightCount(peer.name) < limit) {
      const unit = host.picker.next(peer.name)
      if (unit === undefined) return
      if (policy.maxBacklogMs !== undefined) {
        const rtt = latency(host, peer)
        // The request carries the requester's time to finish at its download rate.
        const eta = (units - host.heldCount) * unitBytes / host.links.down
        peer.meanRequesterEtaMs = peer.meanRequesterEtaMs === 0 ? eta : peer.meanRequesterEtaMs + 0.05 * (eta - peer.meanRequesterEtaMs)
        const factor = policy.urgency ? urgency(eta, peer.meanRequesterEtaMs) : 1
        const admission = admitUpload(Math.max(0, peer.cal.upFree - (q.now + rtt / 2)), { maxBacklogMs: policy.maxBacklogMs }, factor)
        if (!admission.admit) {
          // The refusal comes back after a round trip; the peer is asked again once the backlog
          // has drained, at the next tick or `have` from it, whichever comes first.
          ledger.direct('busy', 1, true)
          host.busyUntil.set(peer.id, q.now + rtt + admission.retryAfterMs)
          return
        }
      }
      host.picker.requested(peer.name, unit)
      host.peerInFlight++
      peer.superSeeder?.given(host.name, unit)
      const requestedAt = q.now
      const arrives = book(q.now, peer.cal, host.cal, sizeOf(unit), latency(host, peer))
      q.at(arrives, () => { delivered(host, peer, unit, requestedAt) })
    }
  }

  const fillAll = (host: Host): void => {
    if (host.leftAt !== undefined || host.doneAt !== undefined) return
    const peers = host.neighbours.map(id => hosts[id]!).filter(peer => peer.leftAt === undefined)
    const order = policy.rankByRate ? rankByRate(peers.map(peer => peer.id.toString()), id => host.rates.rate(id), { random }).map(id => hosts[Number(id)]!) : peers
    for (const peer of order) if (peer.heldCount > 0) fill(host, peer)
  }

  const delivered = (host: Host, peer: Host, unit: number, requestedAt: number): void => {
    if (host.leftAt !== undefined) return
    if (peer.leftAt !== undefined) return // peerGone already freed the request
    host.peerInFlight--
    const key = peer.id.toString()
    const since = Math.max(requestedAt, host.lastFrom.get(peer.id) ?? 0)
    host.lastFrom.set(peer.id, q.now)
    host.rates.transferred(key, sizeOf(unit), q.now - since)
    if (host.rates.rtt(key) === undefined) host.rates.roundTrip(key, latency(host, peer))
    host.meter.add(sizeOf(unit))
    host.lastSwarmProgress = q.now
    if (host.held[unit] === 0) {
      host.picker.completed(peer.name, unit)
      gotUnit(host, unit, false)
    }
    fill(host, peer)
  }

  const gotUnit = (host: Host, unit: number, fromOrigin: boolean): void => {
    host.held[unit] = 1
    host.heldCount++
    if (!host.announced) {
      host.announced = true
      announce(host)
    }
    if (host.heldCount === units) {
      host.doneAt = q.now
      wanting--
      if (policy.gossipAnnounce) ledger.gossip('task-gossip', alive)
    }
    if (fromOrigin && host.superSeeder !== undefined) {
      host.superSeeder.held(unit)
      reveal(host)
      return
    }
    host.pendingHave.push(unit)
    if (!host.flushing) {
      host.flushing = true
      q.after(policy.haveFlushMs, () => { flush(host) })
    }
  }

  const announce = (host: Host): void => {
    if (policy.gossipAnnounce) ledger.gossip('task-gossip', alive)
    ledger.dhtProvide(alive)
  }

  /** The batched `have`s reach the neighbours (gossip adds a few ms of hops: left out). */
  const flush = (host: Host): void => {
    host.flushing = false
    if (host.leftAt !== undefined) return
    const batch = host.pendingHave
    host.pendingHave = []
    if (policy.gossipHaves) ledger.gossip('have', alive)
    else ledger.direct('have', alivePeers(host))
    for (const id of host.neighbours) {
      const peer = hosts[id]!
      if (peer.leftAt !== undefined) continue
      let news = false
      for (const unit of batch) {
        peer.picker.peerHas(host.name, unit)
        peer.superSeeder?.seen(host.name, unit)
        if (peer.held[unit] === 0) news = true
      }
      // Nothing the peer lacks: its picker would find nothing new to ask for.
      if (news) fill(peer, host)
    }
  }

  /** A super-seed tells each neighbour about the pieces SuperSeeder picks for it. */
  const reveal = (seed: Host): void => {
    const superSeeder = seed.superSeeder!
    let sent = 0
    for (const id of seed.neighbours) {
      const peer = hosts[id]!
      if (peer.leftAt !== undefined || peer.doneAt !== undefined) continue
      const shown = superSeeder.revealTo(peer.name)
      if (shown.length === 0) continue
      sent++
      for (const unit of shown) peer.picker.peerHas(seed.name, unit)
      fill(peer, seed)
    }
    ledger.direct('have', sent)
    // Every unit it fetched is out once and the share is in: seed plainly from here on.
    if (superSeeder.spread && seed.originShare.every(unit => seed.held[unit] === 1)) {
      seed.superSeeder = undefined
      for (let unit = 0; unit < units; unit++) if (seed.held[unit] === 1) seed.pendingHave.push(unit)
      flush(seed)
    }
  }

  // ---- the origin -------------------------------------------------------------------------
  const fromOrigin = (host: Host, unit: number): void => {
    host.originInFlight.add(unit)
    host.picker.requested('origin', unit)
    const rate = Math.min(origin.rateFor(1), host.links.down)
    origin.openConnections++
    const bytes = sizeOf(unit)
    host.cal.downFree = Math.max(host.cal.downFree, q.now) + bytes / host.links.down
    const arrives = Math.max(q.now + bytes / rate, host.cal.downFree) + host.links.latencyMs * 2
    q.at(arrives, () => {
      origin.openConnections--
      host.originInFlight.delete(unit)
      if (host.leftAt !== undefined) return
      originBytes += bytes
      if (host.held[unit] === 0) {
        host.picker.completed('origin', unit)
        gotUnit(host, unit, true)
      }
      originPump(host)
    })
  }

  /** A seed works through its share with its origin connections; others on fallback only. */
  const originPump = (host: Host): void => {
    while (host.originInFlight.size < config.originConnections) {
      const unit = host.originShare.find(index => host.held[index] === 0 && !host.originInFlight.has(index))
      if (unit === undefined) return
      fromOrigin(host, unit)
    }
  }

  const fallback = (host: Host): void => {
    const remaining = (units - host.heldCount) * unitBytes
    let wantedUnits = 0
    if (policy.fixedStallMs !== undefined) {
      if (host.peerInFlight === 0 && q.now - host.lastSwarmProgress > policy.fixedStallMs) wantedUnits = config.originConnections
    } else {
      const decision = originFallback({
        remainingBytes: remaining,
        swarmBytesPerMs: host.meter.rate(),
        originBytesPerMs: Math.min(config.originConnections * config.originPerConnection, config.originTotal / Math.max(1, wanting)),
        sinceSwarmProgressMs: q.now - host.lastSwarmProgress,
        unitBytes
      })
      wantedUnits = Math.min(config.originConnections, Math.ceil(decision.originBytes / unitBytes))
    }
    if (wantedUnits <= host.originInFlight.size) return
    const orphans = host.picker.missingWithNoPeer().filter(unit => !host.originInFlight.has(unit))
    // Under the fixed rule only pieces nobody holds go to the origin (as today).
    const candidates = policy.fixedStallMs !== undefined ? orphans : [...orphans, ...range(units).reverse().filter(unit => host.held[unit] === 0 && !host.originInFlight.has(unit) && !orphans.includes(unit))]
    for (const unit of candidates) {
      if (host.originInFlight.size >= wantedUnits) break
      fromOrigin(host, unit)
    }
  }

  // ---- ticks and churn --------------------------------------------------------------------
  const tick = (host: Host): void => {
    if (host.leftAt !== undefined || host.doneAt !== undefined) return
    if (policy.pollHolders) {
      const holders = host.neighbours.filter(id => { const peer = hosts[id]!; return peer.leftAt === undefined && peer.heldCount > 0 && peer.doneAt === undefined }).length
      ledger.direct('meta', holders, true)
      if (policy.searchEveryTicks > 0 && Math.round(q.now / policy.tickMs) % policy.searchEveryTicks === 0) {
        ledger.direct('meta', alivePeers(host), true)
        ledger.dhtLookup(alive)
      }
    }
    fallback(host)
    fillAll(host)
    q.after(policy.tickMs, () => { tick(host) })
  }

  const superTick = (seed: Host): void => {
    if (seed.leftAt !== undefined || seed.superSeeder === undefined) return
    reveal(seed)
    q.after(50, () => { superTick(seed) })
  }

  const leave = (host: Host): void => {
    host.leftAt = q.now
    alive--
    if (host.doneAt === undefined) wanting--
    for (const id of host.neighbours) {
      const peer = hosts[id]!
      if (peer.leftAt !== undefined) continue
      const freed = peer.picker.peerGone(host.name)
      peer.peerInFlight -= freed.length
      peer.rates.forget(host.id.toString())
      peer.superSeeder?.peerGone(host.name)
      if (freed.length > 0) fillAll(peer)
    }
  }

  // ---- start --------------------------------------------------------------------------------
  for (const host of hosts) {
    // Join: find holders (DHT) and exchange bitmaps with the connected peers.
    ledger.dhtLookup(config.hosts)
    ledger.direct('meta', host.neighbours.length, true)
    q.after(random() * policy.tickMs, () => { tick(host) })
  }
  for (const name of elected) {
    const seed = byName.get(name)!
    originPump(seed)
    if (seed.superSeeder !== undefined) q.after(50, () => { superTick(seed) })
  }
  const churners = hosts.slice(pool).filter(() => random() < config.churn)
  for (const host of churners) q.at(tStarMs * (0.1 + 0.8 * random()), () => { leave(host) })

  q.runUntil(tStarMs * config.maxTStar, () => wanting === 0)

  return summarise({
    config,
    hosts,
    ledger,
    unitBytes,
    units,
    seeds: elected.length,
    tStarMs,
    endMs: q.now,
    originBytes,
    events: q.processed,
    wallMs: performance.now() - started
  })
}

function range (count: number): number[] {
  return Array.from({ length: count }, (_, index) => index)
}

