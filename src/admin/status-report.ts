import type { ByteTotals } from '../metrics/metrics.js'
import type { ThroughputSnapshot } from '../metrics/throughput-history.js'
import type { NodeInfo } from '../node.js'
import type { Task } from '../task/task.js'

/** One task as /api/status shows it. */
export interface TaskReport {
  id: string
  key: string
  /** A name for people: the file name the origin gave, else the URL's last path segment. */
  name: string
  /** The source URL without its signing query. */
  url: string
  status: string
  length: number
  pieceSize: number
  pieces: number
  /** Pieces held (verified). */
  held: number
  heldBytes: number
  /** Bytes written, partial pieces included. */
  receivedBytes: number
  /** Bytes per second over the last seconds; 0 when not downloading. */
  rate: number
  bytesFromOrigin: number
  bytesFromPeers: number
  /** Bytes of pieces that were on disk when the node started. */
  bytesLocal: number
  /** One letter per piece: L local, O origin, P peer, ~ arriving, . missing. */
  pieceMap: string
  /** The whole file hashed to the sha256 its key names (true when there is none to check). */
  verified: boolean
  /** First fetched with credentials: served to others only once the origin accepts theirs. */
  private: boolean
  /** Why the last download stopped, for a paused task. */
  error?: string
}

export interface PeerReport {
  id: string
  addresses: string[]
  banned: boolean
}

/** What /api/status answers: the status page and `damselfly status` read only this. */
export interface StatusReport {
  node: NodeInfo & { version: string, startedAt: number, uptimeSeconds: number }
  tasks: TaskReport[]
  /** Connected peer ids (kept as a plain list: scripts and tests read it). */
  peers: string[]
  peerDetails: PeerReport[]
  bannedPeers: string[]
  uploadedBytes: number
  /** Byte counters since start, as in /metrics. */
  totals: ByteTotals
  /** Bytes per second over the last minutes, oldest first. */
  throughput: ThroughputSnapshot
  /** Every peer's standing (failures, bans). */
  peerScores: unknown[]
  cache: { usedBytes: number, quotaBytes: number, evicted: { quota: number, ttl: number } }
  /** Bytes that went through each rate limit (absent: unlimited). */
  rateLimited: Record<string, { bytesPerSecond: number, bytes: number }>
}

export interface StatusSources {
  info: NodeInfo
  version: string
  startedAt: number
  tasks: Task[]
  rateOf: (taskId: string) => number
  connections: Array<{ peer: string, addresses: string[] }>
  bannedPeers: string[]
  uploadedBytes: number
  totals: ByteTotals
  throughput: ThroughputSnapshot
  peerScores: unknown[]
  cache: StatusReport['cache']
  rateLimited: StatusReport['rateLimited']
}

export function statusReport (sources: StatusSources, now = Date.now()): StatusReport {
  const banned = new Set(sources.bannedPeers)
  return {
    node: { ...sources.info, version: sources.version, startedAt: sources.startedAt, uptimeSeconds: Math.round((now - sources.startedAt) / 1000) },
    tasks: sources.tasks.map(task => taskReport(task, sources.rateOf(task.id))),
    peers: sources.connections.map(connection => connection.peer),
    peerDetails: sources.connections.map(({ peer, addresses }) => ({ id: peer, addresses, banned: banned.has(peer) })),
    bannedPeers: sources.bannedPeers,
    uploadedBytes: sources.uploadedBytes,
    totals: { ...sources.totals },
    throughput: sources.throughput,
    peerScores: sources.peerScores,
    cache: sources.cache,
    rateLimited: sources.rateLimited
  }
}

function taskReport (task: Task, rate: number): TaskReport {
  const report: TaskReport = {
    id: task.id,
    key: task.key,
    name: displayName(task),
    url: task.url,
    status: task.status,
    length: task.length,
    pieceSize: task.plan.pieceSize,
    pieces: task.plan.pieceCount,
    held: task.bitmap.count,
    heldBytes: task.heldBytes,
    receivedBytes: task.receivedBytes,
    rate: task.status === 'downloading' ? Math.round(rate) : 0,
    bytesFromOrigin: task.bytesBySource.origin,
    bytesFromPeers: task.bytesBySource.peers,
    bytesLocal: task.bytesBySource.local,
    pieceMap: task.pieceMap(),
    verified: !task.awaitingWholeFileCheck,
    private: task.private
  }
  if (task.status === 'paused' && task.failure !== undefined) report.error = task.failure.message
  return report
}

/** The Content-Disposition file name (RFC 6266, `filename*` first), else the URL's last segment. */
export function displayName (task: Pick<Task, 'headers' | 'url'>): string {
  const disposition = task.headers['content-disposition'] ?? ''
  const extended = /filename\*\s*=\s*[^']*'[^']*'([^;]+)/i.exec(disposition)?.[1]
  if (extended !== undefined) {
    try {
      return decodeURIComponent(extended.trim())
    } catch {}
  }
  const plain = /filename\s*=\s*(?:"([^"]*)"|([^;]+))/i.exec(disposition)
  const name = plain?.[1] ?? plain?.[2]?.trim()
  if (name !== undefined && name !== '') return name
  try {
    const segments = new URL(task.url).pathname.split('/').filter(Boolean)
    return decodeURIComponent(segments[segments.length - 1] ?? task.url)
  } catch {
    return task.url
  }
}
