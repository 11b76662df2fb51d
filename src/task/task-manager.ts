import type { Logger } from '../logging/logger.js'
import type { Metrics } from '../metrics/metrics.js'
import type { OriginClient, OriginSource } from '../origin/origin-client.js'
import type { LocalTasks } from '../p2p/local-tasks.js'
import type { FetchRequest, TaskMetadata } from '../p2p/messages.js'
import type { PeerScores } from '../scheduling/peer-scores.js'
import { CacheGc, type CacheGcInit, type CachedTasks } from '../storage/cache-gc.js'
import type { CacheEntry } from '../storage/eviction.js'
import type { TaskFile, TaskStore } from '../storage/task-files.js'
import { DownloadRun, type DownloadRunComponents, type DownloadSettings } from './download-run.js'
import { PeerService } from './peer-service.js'
import { PieceMigration } from './piece-migration.js'
import { Quarantine, type QuarantineComponents } from './quarantine.js'
import { SourcePlanner, type DownloadPlan, type PlannerSwarm } from './source-planner.js'
import { contentSha256Of } from './task-key.js'
import { TaskRegistry, type AcquiredTask, type TaskRegistryComponents, type TaskRequest } from './task-registry.js'
import { TaskStart } from './task-start.js'
import { Task } from './task.js'

export type { AcquiredTask, TaskRequest } from './task-registry.js'

/** Everything the task parts need of the swarm, and no more (a test passes a plain object). */
export type TaskSwarm = PlannerSwarm & DownloadRunComponents['swarm'] & QuarantineComponents['swarm'] & TaskRegistryComponents['swarm']

export interface TaskManagerComponents {
  store: TaskStore
  origin: Pick<OriginClient, 'probe' | 'close'> & DownloadRunComponents['origin']
  logger: Logger
  swarm: TaskSwarm
  scores: PeerScores
  metrics?: Pick<Metrics, 'bytes' | 'pieceFetched' | 'peerBytesWasted' | 'recordEviction'>
}

export interface TaskManagerInit extends DownloadSettings {
  /** Bytes per piece; 0 picks it from the length (DESIGN.md). */
  pieceSize: number
  /** Quota, watermarks and TTL of the cache. @default no quota, no expiry */
  storage?: Omit<CacheGcInit, 'intervalMs'>
  /** Downloads running at once; 0 = unlimited. @default 0 */
  maxConcurrentTasks?: number
}

/**
 * The node's tasks behind one face: it wires the parts and keeps the public methods callers
 * use. The parts, each behind narrow interfaces:
 * - task-registry: every task the node knows, and single flight (one download per task);
 * - task-start + source-planner: where a new download's content comes from, and the task on disk;
 * - download-run: one task's download (swarm or whole body), checkpoints, the whole-file check;
 * - peer-service: what other peers may ask of this node (LocalTasks);
 * - quarantine: bad copies moved aside, stored copies checked, rotten pieces dropped.
 */
export class TaskManager implements LocalTasks, CachedTasks {
  private readonly components: TaskManagerComponents
  private readonly log: Logger
  private readonly lifetime = new AbortController()
  private readonly registry: TaskRegistry
  private readonly quarantine: Quarantine
  private readonly peers: PeerService
  private readonly starter: TaskStart
  private readonly runComponents: DownloadRunComponents
  private readonly settings: DownloadSettings
  readonly gc: CacheGc
  /** Re-verifications of pieces stored without block hashes, by `<task>:<piece>` (one each). */
  private readonly migration: PieceMigration
  /** The start-up pass migrating pieces stored without block hashes. */
  private migrating: Promise<void> = Promise.resolve()

  constructor (components: TaskManagerComponents, init: TaskManagerInit) {
    this.components = components
    this.log = components.logger.forComponent('tasks')
    const { store, origin, swarm, scores, logger, metrics } = components
    const signal = this.lifetime.signal
    this.settings = { concurrency: init.concurrency, checkpointIntervalMs: init.checkpointIntervalMs, backToSource: init.backToSource, stallMs: init.stallMs, originPace: init.originPace }
    // The parts call each other through closures: each is built before any call is made.
    this.registry = new TaskRegistry({
      store,
      swarm,
      logger,
      quarantine: { pendingCheck: id => this.quarantine.pendingCheck(id), checkStored: task => { this.quarantine.checkStored(task) } },
      start: async (request, known) => await this.starter.start(request, known)
    }, { maxConcurrentTasks: init.maxConcurrentTasks })
    this.quarantine = new Quarantine({ store, swarm, scores, logger, tasks: this.registry }, signal)
    this.gc = new CacheGc({ tasks: this.registry, logger, metrics }, init.storage ?? { quota: 0, highWatermark: 1, lowWatermark: 1, ttl: 0 })
    const planner = new SourcePlanner({ origin, swarm, logger, mustRefetch: id => this.quarantine.mustRefetch(id) })
    this.starter = new TaskStart({ planner, store, room: this.gc, tasks: this.registry, logger, launch: (task, file, source, plan) => { this.launch(task, file, source, plan) } }, { pieceSize: init.pieceSize }, signal)
    this.runComponents = { origin, swarm, scores, store, logger, metrics, quarantine: this.quarantine }
    this.migration = new PieceMigration({
      store,
      logger,
      checkpointIfDownloading: (task) => {
        const run = this.registry.running(task.id)
        run?.scheduleCheckpoint()
        return run !== undefined
      },
      dropRotten: (task, piece) => { this.quarantine.dropRotten(task, piece) }
    }, signal)
    this.peers = new PeerService({
      tasks: this.registry,
      store,
      verifierOf: task => this.verifierOf(task),
      dropRotten: (task, piece) => { this.quarantine.dropRotten(task, piece) },
      acquire: async (request, signal) => await this.acquire(request, signal)
    }, signal)
  }

  /** Loads the tasks a previous run left: complete ones serve at once, partial ones resume on demand. */
  async start (): Promise<void> {
    for (const { meta, blockHashes } of await this.components.store.list()) {
      // Tasks written before whole-file checks existed: their key still names the sha256.
      meta.sha256 ??= contentSha256Of(meta.key)
      if (meta.sha256 === undefined) delete meta.sha256
      this.registry.add(new Task(meta, blockHashes))
    }
    const tasks = this.registry.list()
    const partial = tasks.filter(task => task.status !== 'complete').length
    // Pieces stored by 0.1.0 (no block hashes) are re-verified against their piece sha256 the
    // first time they are read, before any of their bytes leave the node.
    const unverified = tasks.reduce((sum, task) => sum + task.unverifiedPieces().length, 0)
    this.log.info('cache loaded', { tasks: tasks.length, partial, unverifiedPieces: unverified })
    // A quota lowered since the last run is enforced at once.
    await this.gc.collect()
    this.gc.start()
    if (unverified > 0) this.migrating = this.migration.migrateAll(tasks, task => this.registry.get(task.id) === task)
  }

  /** Stops every download, leaving durable metadata for a later resume. */
  async stop (): Promise<void> {
    this.lifetime.abort()
    await Promise.allSettled([this.migrating, ...this.registry.settling()])
    // After them: a migration or download that ended just now may have dropped a piece.
    await Promise.allSettled(this.quarantine.running())
    await this.gc.stop()
    await this.components.origin.close()
  }

  get (id: string): Task | undefined {
    return this.registry.get(id)
  }

  list (): Task[] {
    return this.registry.list()
  }

  /** Downloads running now. */
  get downloading (): number {
    return this.registry.downloading
  }

  /**
   * The task for `request`, its length known: complete, or downloading. Rejects with the
   * origin's error when the origin refuses (UpstreamStatusError carries its answer).
   */
  async acquire (request: TaskRequest, signal: AbortSignal): Promise<AcquiredTask> {
    return await this.registry.acquire(request, signal)
  }

  /**
   * A client with credentials was shown this content by the Hub: the task, now or once
   * created, is private (TaskMeta.private).
   */
  notePrivate (id: string): void {
    this.registry.notePrivate(id)
  }

  /**
   * A piece of a complete task failed its sha256 when read back from disk: it is dropped and
   * fetched again (from peers or the origin) while the caller follows the download.
   */
  async repair (request: TaskRequest, task: Task, index: number, signal: AbortSignal): Promise<Task> {
    await this.quarantine.dropForRepair(task, index)
    return (await this.acquire(request, signal)).task
  }

  /** The task's data, open for reading (for the proxy's verified reader). */
  async open (task: Task): Promise<TaskFile> {
    return await this.components.store.open(task.id, 'read')
  }

  /** VerifiedReadInit.verifyPiece for `task` (pieces stored by 0.1.0 are re-verified first). */
  verifierOf (task: Task): (piece: number, signal: AbortSignal) => Promise<void> {
    return this.migration.verifierOf(task)
  }

  // ---- CachedTasks (task-registry) -----------------------------------------------------

  entries (): CacheEntry[] {
    return this.registry.entries()
  }

  evict (id: string): void {
    this.registry.evict(id)
  }

  async persistAccessTimes (): Promise<void> {
    await this.registry.persistAccessTimes()
  }

  // ---- LocalTasks (peer-service) -------------------------------------------------------

  metadata (taskId: string): TaskMetadata | undefined {
    return this.peers.metadata(taskId)
  }

  async readBlock (taskId: string, piece: number, offset: number, length: number): Promise<{ data: Buffer[], digest?: string, blocks?: string[] } | undefined> {
    return await this.peers.readBlock(taskId, piece, offset, length)
  }

  async fetchForPeer (request: FetchRequest, signal: AbortSignal): Promise<TaskMetadata> {
    return await this.peers.fetchForPeer(request, signal)
  }

  /** Runs the download of a task just started (task-start), tracked until it ends. */
  private launch (task: Task, file: TaskFile, source: OriginSource, plan: DownloadPlan): void {
    const run: DownloadRun = new DownloadRun(this.runComponents, {
      ...this.settings,
      task,
      file,
      source,
      plan,
      signal: this.lifetime.signal,
      onEnd: () => { this.registry.untrack(run) }
    })
    this.registry.track(run)
    run.start()
  }
}
