import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Libp2p } from 'libp2p'
import { AdminServer } from './admin/admin-server.js'
import { readAdminTokenFile } from './admin/admin-token-file.js'
import { statusReport, type StatusReport } from './admin/status-report.js'
import { Metrics } from './metrics/metrics.js'
import { TaskRates } from './metrics/task-rates.js'
import { ThroughputHistory } from './metrics/throughput-history.js'
import { packageVersion } from './version.js'
import { formatHostPort, type DamselflyConfig } from './config/index.js'
import type { Logger } from './logging/logger.js'
import { OriginClient } from './origin/origin-client.js'
import { createP2PHost } from './p2p/host.js'
import type { LocalTasks } from './p2p/local-tasks.js'
import { readPskFile } from './p2p/psk/index.js'
import { Swarm } from './p2p/swarm.js'
import { legacyDialect10 } from './p2p/wire-versions.js'
import { PeerScores } from './scheduling/peer-scores.js'
import { Preheater } from './preheat/preheater.js'
import { loadOrCreateIdentity } from './p2p/identity.js'
import { ProxyServer } from './proxy/proxy-server.js'
import { FsTaskStore } from './storage/fs-task-store.js'
import { loadUpstreamCa } from './tls/upstream-trust.js'
import { TaskManager } from './task/task-manager.js'
import { ClientNetworks, UpstreamHosts } from './limits/access-list.js'
import { RequestLimiter } from './limits/request-limiter.js'
import { paceOf } from './limits/token-bucket.js'

/** What `<data-dir>/node.json` holds, so scripts can find and bootstrap from a node. */
export interface NodeInfo {
  peerId: string
  multiaddrs: string[]
  proxy: string
  admin: string
  /** The data port's listener (HOST:PORT), when it runs. */
  data?: string
  role: string
  pid: number
}

export interface DamselflyNodeComponents {
  logger: Logger
}

/**
 * The composition root: builds every part from the configuration and owns their start and
 * stop order (storage → tasks → p2p → proxy → admin; the reverse on stop).
 */
export class DamselflyNode {
  readonly config: DamselflyConfig
  private readonly log: Logger
  private readonly components: DamselflyNodeComponents
  private rates?: Record<'upload' | 'download' | 'origin', ReturnType<typeof paceOf>>
  private parts?: {
    tasks: TaskManager
    swarm: Swarm
    scores: PeerScores
    p2p: Libp2p
    proxy: ProxyServer
    admin: AdminServer
    preheater: Preheater
    metrics: Metrics
    history: ThroughputHistory
    taskRates: TaskRates
    sampler: NodeJS.Timeout
    startedAt: number
  }

  constructor (components: DamselflyNodeComponents, config: DamselflyConfig) {
    this.components = components
    this.config = config
    this.log = components.logger.forComponent('node')
  }

  async start (): Promise<NodeInfo> {
    const { config } = this
    const { logger } = this.components
    await mkdir(config.dataDir, { recursive: true })
    // Checked first: a missing CA or CA file must stop the start before anything listens.
    const upstreamCa = await loadUpstreamCa(config.tls.upstreamCaFile)
    // The x509 code (@peculiar/x509, asn1 schemas: ~0.8 MB) loads only for a node that intercepts.
    const issuer = config.tls.interceptHosts.length === 0 ? undefined : await import('./tls/index.js').then(async tls => await tls.loadLeafIssuer(tls.caDirOf(config), { logger }))
    const adminToken = config.admin.tokenFile === '' ? undefined : await readAdminTokenFile(config.admin.tokenFile)
    const store = new FsTaskStore({ logger }, { dataDir: config.dataDir })
    await store.init()
    // The registry's host is always an allowed upstream: mirror mode needs it.
    const allowedUpstreams = new UpstreamHosts([...config.proxy.allowedUpstreams, new URL(config.registry).hostname])
    const rates = {
      upload: paceOf(config.limits.uploadRate),
      download: paceOf(config.limits.downloadRate),
      origin: paceOf(config.limits.originRate)
    }
    this.rates = rates
    const psk = config.p2p.pskFile === '' ? undefined : await readPskFile(config.p2p.pskFile)
    const p2p = await createP2PHost({ privateKey: await loadOrCreateIdentity(config.dataDir), listen: config.p2p.listen, psk })
    const metrics = new Metrics({ peerId: p2p.peerId.toString(), role: config.role, version: packageVersion })
    const origin = new OriginClient({ logger, metrics }, { ...config.origin, ca: upstreamCa, allowedUpstreams })
    const scores = new PeerScores()
    // The swarm serves from the tasks and the tasks download through the swarm: the handlers
    // reach the task manager through this narrow view, bound once both exist.
    let tasks: TaskManager | undefined
    const localTasks: LocalTasks = {
      metadata: (taskId) => tasks?.metadata(taskId),
      readBlock: async (taskId, piece, offset, length) => await tasks?.readBlock(taskId, piece, offset, length),
      held: () => (tasks?.list() ?? []).filter(task => task.bitmap.count > 0).map(task => ({ id: task.id, complete: task.bitmap.complete })),
      ...(config.role === 'seed' ? { fetchForPeer: async (request, signal) => await tasks!.fetchForPeer(request, signal) } : {})
    }
    const swarm = new Swarm({ host: p2p, tasks: localTasks, logger, metrics }, {
      role: config.role,
      bootstrap: config.p2p.bootstrap,
      bootstrapDns: config.p2p.bootstrapDns,
      corruptBlocks: process.env.DAMSELFLY_TEST_CORRUPT_BLOCKS === '1',
      // Test-only: speak only what release 0.1.0 spoke (the mixed swarm test's old node).
      ...(process.env.DAMSELFLY_TEST_WIRE === '1.0.0' ? { wireDialects: [legacyDialect10] } : {}),
      maxStreamsPerPeer: config.limits.maxStreamsPerPeer,
      uploadPace: rates.upload.bucket === undefined ? undefined : rates.upload.pace,
      downloadPace: rates.download.bucket === undefined ? undefined : rates.download.pace,
      data: { listen: config.p2p.dataListen, encrypt: config.p2p.dataEncryption }
    })
    tasks = new TaskManager({ store, origin, logger, swarm, scores, metrics }, {
      pieceSize: config.pieceSize,
      concurrency: config.origin.concurrency,
      backToSource: config.backToSource,
      storage: config.storage,
      maxConcurrentTasks: config.limits.maxConcurrentTasks,
      originPace: rates.origin.bucket === undefined ? undefined : rates.origin.pace
    })
    await tasks.start()
    await swarm.start()
    const proxy = new ProxyServer({ tasks, logger, issuer, origin, metrics }, {
      ...config.proxy.listen,
      interceptHosts: config.tls.interceptHosts,
      upstreamCa,
      registry: config.registry,
      rules: config.rules,
      filteredQueryParams: config.filteredQueryParams,
      connectTimeoutMs: config.origin.connectTimeoutMs,
      allowedClients: new ClientNetworks(config.proxy.allowedClients),
      allowedUpstreams,
      requestLimiter: new RequestLimiter({ perSecond: config.limits.requestRate }),
      originPace: rates.origin.bucket === undefined ? undefined : rates.origin.pace
    })
    const preheater = new Preheater({ swarm, tasks, logger }, { registry: config.registry, connectTimeoutMs: config.origin.connectTimeoutMs })
    const admin = new AdminServer({ status: () => this.status(), metrics: async (names) => await metrics.exposition(names), preheater }, { ...config.admin.listen, token: adminToken })
    const taskManager = tasks
    metrics.watch({
      activeTasks: () => taskManager.downloading,
      tasksByStatus: () => countBy(taskManager.list(), task => task.status),
      peersConnected: () => swarm.connectedPeers().length,
      peersBanned: () => bannedPeers(scores).length,
      cacheBytes: () => taskManager.list().reduce((sum, task) => sum + task.heldBytes, 0)
    })
    // Once a second: the status page's throughput history and each running task's rate.
    const history = new ThroughputHistory()
    const taskRates = new TaskRates()
    const sample = (): void => {
      history.sample(metrics.totals)
      taskRates.sample(taskManager.list().filter(task => task.status === 'downloading').map(task => ({ id: task.id, bytes: task.receivedBytes })))
    }
    sample()
    const sampler = setInterval(sample, 1000).unref()
    this.parts = { tasks, swarm, scores, p2p, proxy, admin, preheater, metrics, history, taskRates, sampler, startedAt: Date.now() }
    try {
      await proxy.start()
      await admin.start()
    } catch (error) {
      await this.stop()
      throw error
    }
    const info = this.info()
    await writeNodeInfo(config.dataDir, info)
    this.log.info('node started', { ...info })
    return info
  }

  async stop (): Promise<void> {
    const parts = this.parts
    if (parts === undefined) return
    this.parts = undefined
    clearInterval(parts.sampler)
    await Promise.allSettled([parts.proxy.stop(), parts.admin.stop()])
    await parts.preheater.stop()
    await parts.tasks.stop()
    await parts.swarm.stop()
    // Metadata is saved by now. libp2p closes every connection and its streams: a peer that
    // does not answer must not hold the stop, so it gets a bound.
    if (!await settlesWithin(Promise.resolve(parts.p2p.stop()), p2pStopMs)) this.log.warn('libp2p did not stop in time: leaving it', { ms: p2pStopMs })
    this.log.info('node stopped')
  }

  info (): NodeInfo {
    const parts = this.requireStarted()
    return {
      peerId: parts.p2p.peerId.toString(),
      multiaddrs: parts.p2p.getMultiaddrs().map(address => address.toString()),
      proxy: formatHostPort(parts.proxy.address),
      admin: formatHostPort(parts.admin.address),
      ...(parts.swarm.dataAddress === undefined ? {} : { data: formatHostPort(parts.swarm.dataAddress) }),
      role: this.config.role,
      pid: process.pid
    }
  }

  private status (): StatusReport {
    const parts = this.requireStarted()
    return statusReport({
      info: this.info(),
      version: packageVersion,
      startedAt: parts.startedAt,
      tasks: parts.tasks.list(),
      rateOf: taskId => parts.taskRates.rateOf(taskId),
      connections: parts.swarm.connections(),
      bannedPeers: bannedPeers(parts.scores),
      uploadedBytes: parts.swarm.uploaded,
      totals: parts.metrics.totals,
      throughput: parts.history.snapshot(),
      peerScores: parts.scores.snapshot(),
      cache: { usedBytes: parts.tasks.gc.used(), quotaBytes: this.config.storage.quota, evicted: parts.tasks.gc.evicted },
      rateLimited: Object.fromEntries(Object.entries(this.rates ?? {}).flatMap(([name, rate]) =>
        rate.bucket === undefined ? [] : [[name, { bytesPerSecond: rate.bucket.ratePerSecond, bytes: rate.bucket.taken }]]))
    })
  }

  private requireStarted (): NonNullable<DamselflyNode['parts']> {
    if (this.parts === undefined) throw new Error('the node is not running')
    return this.parts
  }
}

/** How long libp2p may take to close its connections on stop. */
const p2pStopMs = 3000

/** True when `promise` settles (either way) within `ms`. */
async function settlesWithin (promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>(resolve => { timer = setTimeout(() => { resolve(false) }, ms) })
  try {
    return await Promise.race([promise.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}

function bannedPeers (scores: PeerScores): string[] {
  return scores.snapshot().filter(score => score.bannedUntil !== undefined && score.bannedUntil > Date.now()).map(score => score.peerId)
}

function countBy<T> (items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1
  return counts
}

async function writeNodeInfo (dataDir: string, info: NodeInfo): Promise<void> {
  const path = join(dataDir, 'node.json')
  await writeFile(`${path}.tmp`, JSON.stringify(info, null, 2) + '\n')
  await rename(`${path}.tmp`, path)
}
