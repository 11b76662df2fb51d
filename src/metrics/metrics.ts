import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { blockMemoryOutcomes, type BlockMemoryOutcome } from '../storage/block-memory.js'

/** How often the event-loop lag metric samples (nodejs_eventloop_lag_*). */
const eventLoopLagSampleMs = 200

/**
 * Every metric a node exports, `damselfly_` prefixed (docs/metrics.md explains each). A
 * node owns its own Registry, so several nodes in one process (the tests) never clash.
 * Parts count through the narrow methods here; state that other parts already keep (tasks,
 * peers, cache size) is read when Prometheus scrapes, through `watch`.
 */

/**
 * What a proxied request became, counted once when its answer ends:
 * hit (a complete task), partial (a task with some pieces on disk), miss (a task with none),
 * passthrough (relayed or tunnelled untouched), rejected (refused as malformed before any
 * upstream traffic), error (the origin refused or failed, the cache failed, or the body was cut).
 */
export type ProxyResult = 'hit' | 'miss' | 'partial' | 'passthrough' | 'error' | 'rejected'

/**
 * Where bytes came from: origin and peer count verified pieces landing in a task; local
 * counts bytes sent to clients from pieces already on disk when the request came.
 */
export type ByteSource = 'origin' | 'peer' | 'local'

/**
 * Why piece bytes received from a peer were of no use: `duplicate`, blocks of a transfer whose
 * piece landed from another source first (an endgame duplicate that lost); `failed`, blocks of
 * a transfer that broke off or was refused as corrupt (its piece is fetched again); `discarded`,
 * block bytes that reached a data connection after their request was given up (cancelled or
 * timed out: the holder had sent them already).
 */
export type WastedReason = 'duplicate' | 'failed' | 'discarded'

/** Running byte totals kept beside the counters, for the throughput history. */
export interface ByteTotals {
  origin: number
  peer: number
  local: number
  /** Task bytes sent to proxy clients. */
  clients: number
  /** Piece bytes served to peers. */
  upload: number
}

/** State read at scrape time rather than counted. */
export interface WatchedState {
  activeTasks: () => number
  tasksByStatus: () => Record<string, number>
  peersConnected: () => number
  peersBanned: () => number
  cacheBytes: () => number
}

export interface MetricsInit {
  peerId?: string
  role?: string
  version?: string
  /** Export Node process metrics (CPU, memory, event loop, GC). @default true */
  processMetrics?: boolean
}

const prefix = 'damselfly_'
/** Piece fetches take from tens of milliseconds (4 MiB on a LAN) to minutes (64 MiB from a slow origin). */
const pieceSecondsBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

export class Metrics {
  readonly registry = new Registry()
  readonly totals: ByteTotals = { origin: 0, peer: 0, local: 0, clients: 0, upload: 0 }
  private watched?: WatchedState
  private readonly proxyRequests: Counter<'result'>
  private readonly bytesBySource: Counter<'source'>
  private readonly clientBytes: Counter
  private readonly uploadBytes: Counter
  private readonly wastedBytes: Counter<'reason'>
  private readonly pieceSeconds: Histogram<'source'>
  private readonly originRequests: Counter<'status'>
  private readonly evictions: Counter
  private readonly dataConnectionBytes: Counter<'direction'>
  private readonly dataConnections: Counter<'outcome'>
  private readonly dataSlabs: Counter<'outcome'>
  private readonly wholeFileHashed: Counter<'how'>

  constructor (init: MetricsInit = {}) {
    const registers = [this.registry]
    const state = (): WatchedState | undefined => this.watched
    this.proxyRequests = new Counter({ name: `${prefix}proxy_requests_total`, help: 'Requests the proxy answered, by what they became: hit, partial, miss, passthrough, rejected, error.', labelNames: ['result'], registers })
    this.bytesBySource = new Counter({ name: `${prefix}bytes_total`, help: 'Bytes by where they came from: verified piece bytes from the origin or peers landing in tasks, and bytes sent to clients from pieces already on disk (local).', labelNames: ['source'], registers })
    this.clientBytes = new Counter({ name: `${prefix}client_bytes_total`, help: 'Task bytes the proxy sent to clients (response bodies of hits, partials and misses).', registers })
    this.uploadBytes = new Counter({ name: `${prefix}upload_bytes_total`, help: 'Piece bytes served to peers.', registers })
    this.wastedBytes = new Counter({ name: `${prefix}peer_bytes_wasted_total`, help: 'Piece bytes received from peers that were of no use, by reason: duplicate (the piece landed from another source first), failed (the transfer broke off or was corrupt), discarded (arrived after their request was given up).', labelNames: ['reason'], registers })
    this.pieceSeconds = new Histogram({ name: `${prefix}piece_fetch_seconds`, help: 'Time to fetch one whole piece, by source (origin or peer), retries included.', labelNames: ['source'], buckets: pieceSecondsBuckets, registers })
    this.originRequests = new Counter({ name: `${prefix}origin_requests_total`, help: 'HTTP requests the node sent to the origin for tasks, by response status (error: no response).', labelNames: ['status'], registers })
    this.evictions = new Counter({ name: `${prefix}cache_evictions_total`, help: 'Tasks removed from the cache to make room.', registers })
    this.dataConnectionBytes = new Counter({ name: `${prefix}data_connection_bytes_total`, help: 'Block bytes carried by data connections (the TCP connections beside libp2p), by direction: sent to peers or received from them.', labelNames: ['direction'], registers })
    this.dataConnections = new Counter({ name: `${prefix}data_connections_total`, help: 'Data connections this node tried to open, by outcome: opened, failed (blocks went over libp2p), unsupported (an older peer), cut (an open one broke or closed).', labelNames: ['outcome'], registers })
    this.wholeFileHashed = new Counter({ name: `${prefix}whole_file_hash_bytes_total`, help: 'Bytes downloads fed to the whole-file sha256 of tasks keyed by it, by how: landed (from the memory a block was verified from, as it landed) or read (read back from disk: blocks that landed too far ahead of the hash, or pieces held before the download).', labelNames: ['how'], registers })
    this.dataSlabs = new Counter({ name: `${prefix}data_connection_slabs_total`, help: 'Read slabs (4 MiB) plain data connections started, by outcome: allocated (the pool was empty) or reused (a slab no block referred to any more).', labelNames: ['outcome'], registers })
    // The verified reader's buffers are per process (block-memory.ts): counted from this node's start.
    const since = blockMemoryOutcomes()
    const counted: Record<BlockMemoryOutcome, number> = { allocated: 0, reused: 0 }
    new Counter({
      name: `${prefix}block_buffers_total`,
      help: 'Buffers the verified reader read blocks into (hits, and blocks served to peers), by outcome: allocated, or reused (memory every holder had given back). Per process.',
      labelNames: ['outcome'],
      registers,
      collect () {
        const now = blockMemoryOutcomes()
        for (const outcome of ['allocated', 'reused'] as const) {
          const total = now[outcome] - since[outcome]
          this.inc({ outcome }, total - counted[outcome])
          counted[outcome] = total
        }
      }
    })
    new Gauge({ name: `${prefix}active_tasks`, help: 'Downloads running now.', registers, collect () { this.set(state()?.activeTasks() ?? 0) } })
    new Gauge({
      name: `${prefix}tasks`,
      help: 'Tasks known to the node, by status (downloading, complete, paused).',
      labelNames: ['status'],
      registers,
      collect () {
        const counts = state()?.tasksByStatus() ?? {}
        for (const status of new Set(['downloading', 'complete', 'paused', ...Object.keys(counts)])) this.set({ status }, counts[status] ?? 0)
      }
    })
    new Gauge({ name: `${prefix}peers_connected`, help: 'Peers with an open connection.', registers, collect () { this.set(state()?.peersConnected() ?? 0) } })
    new Gauge({ name: `${prefix}peers_banned`, help: 'Peers banned now for serving corrupt pieces or failing.', registers, collect () { this.set(state()?.peersBanned() ?? 0) } })
    new Gauge({ name: `${prefix}cache_bytes`, help: 'Bytes of verified pieces held on disk, all tasks.', registers, collect () { this.set(state()?.cacheBytes() ?? 0) } })
    new Gauge({ name: `${prefix}info`, help: 'Always 1; the labels describe the node.', labelNames: ['peer_id', 'role', 'version'], registers })
      .set({ peer_id: init.peerId ?? '', role: init.role ?? '', version: init.version ?? '' }, 1)
    // Zero series from the start, so rate() sees the first increment of each.
    for (const result of ['hit', 'miss', 'partial', 'passthrough', 'error', 'rejected'] as const) this.proxyRequests.inc({ result }, 0)
    for (const source of ['origin', 'peer', 'local'] as const) this.bytesBySource.inc({ source }, 0)
    for (const direction of ['sent', 'received'] as const) this.dataConnectionBytes.inc({ direction }, 0)
    for (const reason of ['duplicate', 'failed', 'discarded'] as const) this.wastedBytes.inc({ reason }, 0)
    for (const outcome of ['allocated', 'reused'] as const) this.dataSlabs.inc({ outcome }, 0)
    // Unprefixed (process_*, nodejs_*), as every Node.js dashboard expects them.
    // The event-loop lag is sampled every 200 ms, not prom-client's 10: its timer woke an idle
    // node 100 times a second (epoll_pwait with a 10 ms timeout under strace: 1,948 wake-ups in
    // 10 s, 235 after), which adds up with many nodes on one host (docs/scale.md).
    if (init.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: eventLoopLagSampleMs })
  }

  /** Gives the scrape-time gauges their sources, once the node's parts exist. */
  watch (state: WatchedState): void {
    this.watched = state
  }

  proxyRequest (result: ProxyResult): void {
    this.proxyRequests.inc({ result })
  }

  bytes (source: ByteSource, count: number): void {
    if (count <= 0) return
    this.bytesBySource.inc({ source }, count)
    this.totals[source] += count
  }

  sentToClient (count: number): void {
    if (count <= 0) return
    this.clientBytes.inc(count)
    this.totals.clients += count
  }

  uploaded (count: number): void {
    if (count <= 0) return
    this.uploadBytes.inc(count)
    this.totals.upload += count
  }

  /** Piece bytes received from peers that were of no use (see WastedReason). */
  peerBytesWasted (reason: WastedReason, count: number): void {
    if (count > 0) this.wastedBytes.inc({ reason }, count)
  }

  pieceFetched (source: 'origin' | 'peer', seconds: number): void {
    this.pieceSeconds.observe({ source }, seconds)
  }

  originResponse (status: number | 'error'): void {
    this.originRequests.inc({ status: String(status) })
  }

  /** Block bytes on a data connection. */
  dataBytes (direction: 'sent' | 'received', count: number): void {
    if (count > 0) this.dataConnectionBytes.inc({ direction }, count)
  }

  /** How one try to open (or an open) data connection ended. */
  dataConnection (outcome: 'opened' | 'failed' | 'unsupported' | 'cut'): void {
    this.dataConnections.inc({ outcome })
  }

  /** Bytes a download's whole-file check hashed: from the blocks as they landed, or read back from disk. */
  wholeFileHash (how: 'landed' | 'read', count: number): void {
    if (count > 0) this.wholeFileHashed.inc({ how }, count)
  }

  /** A plain data connection started reading into a slab, new or from its pool. */
  dataSlab (outcome: 'allocated' | 'reused'): void {
    this.dataSlabs.inc({ outcome })
  }

  /** For the cache eviction to call once per task it removes. */
  recordEviction (): void {
    this.evictions.inc()
  }

  /**
   * The Prometheus text exposition of every metric, or of only the metrics `names` lists (names
   * not registered are left out). All of them cost ~2 ms of CPU per scrape (the process and
   * event-loop collectors); a benchmark reading two counters twice a second must not pay that.
   */
  async exposition (names: readonly string[] = []): Promise<{ contentType: string, text: string }> {
    if (names.length === 0) return { contentType: this.registry.contentType, text: await this.registry.metrics() }
    const known = [...new Set(names)].filter(name => this.registry.getSingleMetric(name) !== undefined)
    const texts = await Promise.all(known.map(async name => await this.registry.getSingleMetricAsString(name)))
    return { contentType: this.registry.contentType, text: texts.map(text => text + '\n').join('') }
  }
}
