import { abortable } from '../abort.js'
import { AbortedError, BlockMismatchError, IntegrityError, LimitReachedError, NotCacheableError, redactUrl } from '../errors.js'
import type { Pace } from '../limits/token-bucket.js'
import { CacheGc, type CacheGcInit, type CachedTasks } from '../storage/cache-gc.js'
import type { CacheEntry } from '../storage/eviction.js'
import type { Logger } from '../logging/logger.js'
import type { OriginClient, OriginSource, ProbeResult } from '../origin/origin-client.js'
import type { TaskMeta } from '../storage/task-meta.js'
import type { TaskFile, TaskStore } from '../storage/task-files.js'
import { Bitmap } from '../storage/bitmap.js'
import { blockBytes } from '../storage/blocks.js'
import { PieceMigration } from './piece-migration.js'
import { fillFromWholeBody } from './origin-download.js'
import { PiecePlan, pieceSizeFor } from './piece-plan.js'
import { contentSha256Of, parseTaskKey, type TaskKey } from './task-key.js'
import { Task } from './task.js'
import type { LocalTasks } from '../p2p/local-tasks.js'
import type { FetchRequest, FetchResponse, TaskMetadata } from '../p2p/messages.js'
import type { Holder, Swarm } from '../p2p/swarm.js'
import type { PeerScores } from '../scheduling/peer-scores.js'
import { electForColdTask, shareOf } from '../scheduling/rendezvous.js'
import { withoutCredentials } from '../origin/http-headers.js'
import { SwarmDownload, type OriginPlan } from './swarm-download.js'
import { checkWholeFile } from './whole-file-check.js'
import type { Metrics } from '../metrics/metrics.js'

export interface TaskManagerComponents {
  store: TaskStore
  origin: OriginClient
  logger: Logger
  swarm: Swarm
  scores: PeerScores
  metrics?: Pick<Metrics, 'bytes' | 'pieceFetched' | 'recordEviction'>
}

export interface TaskManagerInit {
  /** Bytes per piece; 0 picks it from the length (DESIGN.md). */
  pieceSize: number
  /** Ranged origin GETs in flight per task. */
  concurrency: number
  /** How often a running download's metadata is made durable. @default 250 */
  checkpointIntervalMs?: number
  /** Fetch from the origin what no peer supplies in time. @default true */
  backToSource?: boolean
  /** How long peers may make no progress before the origin is used. @default 10000 */
  stallMs?: number
  /** Quota, watermarks and TTL of the cache. @default no quota, no expiry */
  storage?: Omit<CacheGcInit, 'intervalMs'>
  /** Downloads running at once; 0 = unlimited. @default 0 */
  maxConcurrentTasks?: number
  /** Paces every byte taken from the origin (back-to-source rate). @default unlimited */
  originPace?: Pace
}

export interface TaskRequest {
  key: TaskKey
  /** The client's URL and headers: used to fetch, or to refresh a running fetch's source. */
  source: OriginSource
  /** Set when an elected seed fetches for a peer: the seeds elected, to derive this seed's share. */
  elected?: string[]
  /**
   * The client sent credentials (Authorization, Cookie), or the Hub needed them to resolve the
   * file: a task this request creates is private (TaskMeta.private).
   */
  private?: boolean
}

export interface AcquiredTask {
  task: Task
  /** The task was complete on disk when asked for. */
  hit: boolean
}

interface ActiveDownload {
  task: Task
  file: TaskFile
  source: OriginSource
  /** Task bytes by source already added to the metrics. */
  counted: { origin: number, peers: number }
  checkpointTimer?: NodeJS.Timeout
  checkpoints: Promise<void>
  done: Promise<void>
}

/** Length, validator and headers of a content, from the origin's probe or a peer's metadata. */
interface ContentShape {
  length: number
  pieceSize?: number
  etag?: string
  headers: Record<string, string>
  /** A peer's copy was private: ours is too. */
  private?: boolean
}

/** How a download is to be run once the task exists. */
interface DownloadPlan {
  probe?: ProbeResult
  holders: Holder[]
  /** Pieces fetched from the origin at once; computed when the piece count is known. */
  origin: (pieceCount: number) => OriginPlan
  /** The other elected seeds, fetching the other shares. */
  partners?: string[]
}

/**
 * Every task the node knows, and the one download running for each (single flight):
 * callers asking for the same content at once share one probe and one set of fetches. With a
 * swarm, content comes from peers first; a cold task is fetched by the elected seeds.
 */
export class TaskManager implements LocalTasks, CachedTasks {
  private readonly components: TaskManagerComponents
  private readonly init: TaskManagerInit
  private readonly log: Logger
  private readonly tasks = new Map<string, Task>()
  private readonly starting = new Map<string, Promise<Task>>()
  private readonly active = new Map<string, ActiveDownload>()
  private readonly lifetime = new AbortController()
  /** Bytes promised to tasks being created, not yet in `tasks`. */
  private reservedBytes = 0
  readonly gc: CacheGc
  /** Tasks whose last copy failed its sha256 check: the next download skips peers. */
  private readonly refetchFromOrigin = new Set<string>()
  /** Tasks not created yet that a client with credentials resolved (oldest first, bounded). */
  private readonly privateSoon = new Set<string>()
  /** Whole-file checks of complete tasks found unverified on disk (one per task). */
  private readonly storedChecks = new Map<string, Promise<void>>()
  /** Re-verifications of pieces stored without block hashes, by `<task>:<piece>` (one each). */
  private readonly migration: PieceMigration
  /** The start-up pass migrating pieces stored without block hashes. */
  private migrating: Promise<void> = Promise.resolve()

  constructor (components: TaskManagerComponents, init: TaskManagerInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('tasks')
    this.migration = new PieceMigration({
      store: components.store,
      logger: components.logger,
      checkpointIfDownloading: (task) => {
        const active = this.active.get(task.id)
        if (active !== undefined) this.scheduleCheckpoint(active)
        return active !== undefined
      },
      dropRotten: (task, piece) => { this.dropRotten(task, piece) }
    }, this.lifetime.signal)
    this.gc = new CacheGc({ tasks: this, logger: components.logger, metrics: components.metrics }, init.storage ?? { quota: 0, highWatermark: 1, lowWatermark: 1, ttl: 0 })
  }

  /** Loads the tasks a previous run left: complete ones serve at once, partial ones resume on demand. */
  async start (): Promise<void> {
    for (const { meta, blockHashes } of await this.components.store.list()) {
      // Tasks written before whole-file checks existed: their key still names the sha256.
      meta.sha256 ??= contentSha256Of(meta.key)
      if (meta.sha256 === undefined) delete meta.sha256
      this.tasks.set(meta.id, new Task(meta, blockHashes))
    }
    const partial = [...this.tasks.values()].filter(task => task.status !== 'complete').length
    // Pieces stored by 0.1.0 (no block hashes) are re-verified against their piece sha256 the
    // first time they are read, before any of their bytes leave the node.
    const unverified = [...this.tasks.values()].reduce((sum, task) => sum + task.unverifiedPieces().length, 0)
    this.log.info('cache loaded', { tasks: this.tasks.size, partial, unverifiedPieces: unverified })
    // A quota lowered since the last run is enforced at once.
    await this.gc.collect()
    this.gc.start()
    if (unverified > 0) this.migrating = this.migration.migrateAll([...this.tasks.values()], task => this.tasks.get(task.id) === task)
  }

  get (id: string): Task | undefined {
    return this.tasks.get(id)
  }

  list (): Task[] {
    return [...this.tasks.values()]
  }

  /** Downloads running now. */
  get downloading (): number {
    return this.active.size
  }

  /**
   * The task for `request`, its length known: complete, or downloading. Rejects with the
   * origin's error when the origin refuses (UpstreamStatusError carries its answer).
   */
  async acquire (request: TaskRequest, signal: AbortSignal): Promise<AcquiredTask> {
    const id = request.key.id
    // A task that just failed its check is being moved aside: wait, then start afresh.
    const condemned = this.active.get(id)
    if (condemned?.task.status === 'quarantined') await abortable(condemned.done, signal)
    const storedCheck = this.storedChecks.get(id)
    if (this.tasks.get(id)?.status === 'quarantined' && storedCheck !== undefined) await abortable(storedCheck, signal)
    const known = this.tasks.get(id)
    known?.touch()
    if (known?.status === 'complete') {
      if (known.awaitingWholeFileCheck) this.checkStored(known)
      return { task: known, hit: true }
    }
    const running = this.active.get(id)
    if (running !== undefined) {
      if (running.task.status === 'downloading') {
        running.source = request.source
        return { task: running.task, hit: false }
      }
      // A download that just stopped is still saving its state and closing its file: joining
      // it would fail this client at once (an empty reply). Wait for it, then start afresh.
      await abortable(running.done, signal)
      return await this.acquire(request, signal)
    }
    let starting = this.starting.get(id)
    if (starting === undefined) {
      const max = this.init.maxConcurrentTasks ?? 0
      // A finished download still closing its files no longer counts.
      const downloading = [...this.active.values()].filter(active => active.task.status === 'downloading').length
      if (max > 0 && downloading + this.starting.size >= max) {
        throw new LimitReachedError('ERR_TOO_MANY_TASKS', `${max} downloads are running, the most this node runs at once`, 2)
      }
      starting = this.begin(request, known)
      this.starting.set(id, starting)
      const forget = (): void => { this.starting.delete(id) }
      starting.then(forget, forget)
    }
    return { task: await abortable(starting, signal), hit: false }
  }

  /**
   * A client with credentials was shown this content by the Hub: the task, now or once
   * created, is private (TaskMeta.private).
   */
  notePrivate (id: string): void {
    const task = this.tasks.get(id)
    if (task === undefined) {
      this.privateSoon.delete(id)
      this.privateSoon.add(id)
      for (const oldest of this.privateSoon) {
        if (this.privateSoon.size <= 10_000) break
        this.privateSoon.delete(oldest)
      }
      return
    }
    if (task.private) return
    task.markPrivate()
    if (!this.active.has(id)) {
      void this.components.store.writeMeta(task.toMeta()).catch((error: unknown) => {
        this.log.warn('cannot record a task as private', { task: id, error })
      })
    }
  }

  /** Stops every download, leaving durable metadata for a later resume. */
  async stop (): Promise<void> {
    this.lifetime.abort()
    await Promise.allSettled([this.migrating, ...this.starting.values(), ...[...this.active.values()].map(active => active.done), ...this.storedChecks.values()])
    await this.gc.stop()
    await this.components.origin.close()
  }

  // ---- CachedTasks: what the cache collector may see and do ------------------------------

  entries (): CacheEntry[] {
    return [...this.tasks.values()].map(task => ({
      id: task.id,
      bytes: task.length,
      lastAccessAt: task.lastAccessAt,
      inUse: task.inUse || this.active.has(task.id) || this.starting.has(task.id)
    }))
  }

  evict (id: string): void {
    if (!this.tasks.delete(id)) return
    this.components.swarm.withdrawTask(id)
    this.components.store.remove(id).catch((error: unknown) => { this.log.error('cannot remove evicted task', { task: id, error }) })
  }

  async persistAccessTimes (): Promise<void> {
    for (const task of this.tasks.values()) {
      // A running download's checkpoints carry the access time already.
      if (!task.accessUnsaved || this.active.has(task.id) || this.starting.has(task.id)) continue
      await this.components.store.writeMeta(task.toMeta()).catch((error: unknown) => {
        this.log.warn('cannot save access time', { task: task.id, error })
      })
    }
  }

  // ---- LocalTasks: what peers may ask of this node --------------------------------------

  metadata (taskId: string): TaskMetadata | undefined {
    const task = this.tasks.get(taskId)
    if (task === undefined || task.status === 'quarantined') return undefined
    const meta = task.toMeta()
    const result: TaskMetadata = {
      task: task.id,
      key: task.key,
      length: task.length,
      pieceSize: task.plan.pieceSize,
      headers: meta.headers,
      bitmap: meta.bitmap,
      digests: meta.digests,
      complete: task.bitmap.complete
    }
    if (meta.etag !== undefined) result.etag = meta.etag
    if (task.private) result.private = true
    // Block-aware protocol fields (messages.ts): to be sent only to peers that negotiated it.
    result.blockSize = task.blocks.layout.blockSize
    if (meta.roots !== undefined) result.roots = meta.roots
    return result
  }

  async readBlock (taskId: string, piece: number, offset: number, length: number): Promise<{ data: Buffer[], digest?: string, blocks?: string[] } | undefined> {
    const task = this.tasks.get(taskId)
    if (task === undefined || task.status === 'quarantined' || piece >= task.plan.pieceCount || !task.bitmap.has(piece)) return undefined
    if (offset + length > task.plan.size(piece)) return undefined
    task.touch()
    const start = task.plan.start(piece) + offset
    const file = await this.open(task)
    const parts: Buffer[] = []
    try {
      for await (const part of file.readVerified(task.blocks, start, start + length - 1, { signal: this.lifetime.signal, verifyPiece: this.verifierOf(task) })) parts.push(part)
    } catch (error) {
      // Never pass a rotten block on: the peer asks elsewhere, and the piece is fetched again.
      if (!(error instanceof BlockMismatchError)) throw error
      this.dropRotten(task, error.piece)
      return undefined
    } finally {
      await file.close()
    }
    // The verified buffers themselves (no copy into one): the sender writes them one by one.
    const data = parts
    const digest = task.digestOf(piece)
    const blocks = task.blocks.pieceHashes(piece)?.map(hash => Buffer.from(hash).toString('hex'))
    return { data, ...(digest === undefined ? {} : { digest }), ...(blocks === undefined ? {} : { blocks }) }
  }

  /** The task's data, open for reading (for the proxy's verified reader). */
  async open (task: Task): Promise<TaskFile> {
    return await this.components.store.open(task.id, 'read')
  }

  /** VerifiedReadInit.verifyPiece for `task` (pieces stored by 0.1.0 are re-verified first). */
  verifierOf (task: Task): (piece: number, signal: AbortSignal) => Promise<void> {
    return this.migration.verifierOf(task)
  }

  /** A held piece read back wrong (bit rot): dropped, so the next download fetches it again. */
  private dropRotten (task: Task, piece: number): void {
    if (!task.bitmap.has(piece)) return
    this.log.warn('piece failed its sha256 check on read: dropping it', { task: task.id, piece })
    task.invalidatePiece(piece)
    if (!this.active.has(task.id)) {
      void this.components.store.writeMeta(task.toMeta()).catch((error: unknown) => {
        this.log.warn('cannot record a dropped piece', { task: task.id, error })
      })
    }
  }

  /** Seeds: a peer elected us to fetch (our share of) a task from the origin. */
  async fetchForPeer (request: FetchRequest, signal: AbortSignal): Promise<TaskMetadata> {
    const key = parseTaskKey(request.key)
    if (key.id !== request.task) throw new Error('task id does not match its key')
    const { task } = await this.acquire({ key, source: { url: request.url, headers: request.headers }, elected: request.share?.elected, private: request.private }, signal)
    const meta = this.metadata(task.id)
    if (meta === undefined) throw new Error('task vanished')
    return meta
  }

  // ---- starting a download ----------------------------------------------------------------

  private async begin (request: TaskRequest, known: Task | undefined): Promise<Task> {
    const signal = this.lifetime.signal
    const { plan, shape } = await this.plan(request, signal)
    let task = known
    let file: TaskFile
    if (task !== undefined && task.status !== 'quarantined' && this.canResume(task, shape, request.key)) {
      file = await this.components.store.open(task.id, 'write')
      this.log.info('resuming task', { task: task.id, held: task.bitmap.count, pieces: task.plan.pieceCount })
    } else {
      if (task !== undefined) {
        this.log.warn('content changed, starting the task over', { task: task.id })
        this.tasks.delete(task.id)
      }
      // The whole content's room is taken now, so the download never fails halfway for want of quota.
      if (!this.gc.makeRoom(shape.length, this.reservedBytes)) {
        plan.probe?.wholeBody?.destroy()
        throw new NotCacheableError(`a ${shape.length}-byte content does not fit in the cache quota beside the tasks in use`)
      }
      const meta = newMeta({ ...request, private: request.private === true || this.privateSoon.delete(request.key.id) }, shape, this.init.pieceSize)
      this.reservedBytes += shape.length
      try {
        file = await this.components.store.create(meta)
      } finally {
        this.reservedBytes -= shape.length
      }
      task = new Task(meta)
      this.tasks.set(task.id, task)
    }
    if (signal.aborted) {
      plan.probe?.wholeBody?.destroy()
      await file.close()
      throw new AbortedError()
    }
    this.run(task, file, request.source, plan)
    return task
  }

  /**
   * Where the content's shape comes from and who fetches what: a peer holding the whole task
   * (no origin traffic at all), the elected seeds (cold start), or the origin itself.
   */
  private async plan (request: TaskRequest, signal: AbortSignal): Promise<{ plan: DownloadPlan, shape: ContentShape }> {
    const { swarm } = this.components
    const fromOrigin = async (origin: (pieceCount: number) => OriginPlan, holders: Holder[] = []): Promise<{ plan: DownloadPlan, shape: ContentShape }> => {
      const probe = await this.components.origin.probe(request.source, signal)
      return { plan: { probe, holders, origin }, shape: probe }
    }
    if (this.refetchFromOrigin.has(request.key.id)) {
      this.log.info('refetching a task that failed its sha256 check from the origin', { task: request.key.id })
      return await fromOrigin(() => 'all')
    }
    const self = swarm.peerId
    if (request.elected !== undefined) {
      const elected = request.elected
      const planned = await fromOrigin(pieceCount => new Set(shareOf(request.key.key, elected, self, pieceCount)))
      return { ...planned, plan: { ...planned.plan, partners: elected.filter(seed => seed !== self) } }
    }
    const holders = await swarm.findHolders(request.key.id, signal)
    const complete = holders.find(holder => holder.meta.complete)
    if (complete !== undefined) return { plan: { holders, origin: () => 'none' }, shape: complete.meta }
    const live = await swarm.liveSeeds()
    const elected = electForColdTask(request.key.key, live)
    if (elected.includes(self)) {
      const others = elected.filter(seed => seed !== self)
      const planned = await fromOrigin(pieceCount => new Set(shareOf(request.key.key, elected, self, pieceCount)), holders)
      for (const seed of others) void this.askSeed(seed, request, elected, signal)
      return { ...planned, plan: { ...planned.plan, partners: others } }
    }
    if (elected.length > 0) {
      const answers = await Promise.all(elected.map(async seed => ({ seed, answer: await this.askSeed(seed, request, elected, signal) })))
      const accepted = answers.flatMap(({ seed, answer }) => answer?.ok === true ? [{ peer: seed, meta: answer.meta }] : [])
      if (accepted[0] !== undefined) return { plan: { holders: [...holders, ...accepted], origin: () => 'none' }, shape: accepted[0].meta }
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
      }, AbortSignal.any([signal, AbortSignal.timeout(30_000)]))
    } catch (error) {
      this.log.debug('seed did not answer a fetch request', { seed, error })
      return undefined
    }
  }

  private canResume (task: Task, shape: ContentShape, key: TaskKey): boolean {
    if (task.length !== shape.length) return false
    if (shape.pieceSize !== undefined && shape.pieceSize !== task.plan.pieceSize) return false
    // A content-addressed key already names the bytes; a URL key needs the validator to agree.
    if (key.contentSha256 !== undefined) return true
    return task.etag === shape.etag
  }

  private run (task: Task, file: TaskFile, source: OriginSource, plan: DownloadPlan): void {
    const signal = this.lifetime.signal
    const onPiece = (): void => {
      this.countBytes(active)
      this.scheduleCheckpoint(active)
    }
    const started = Date.now()
    const heldAtStart = task.bitmap.count
    task.startDownloading()
    const active: ActiveDownload = {
      task,
      file,
      source: plan.probe?.finalSource ?? source,
      counted: { origin: task.bytesBySource.origin, peers: task.bytesBySource.peers },
      checkpoints: Promise.resolve(),
      done: Promise.resolve()
    }
    this.active.set(task.id, active)
    const { swarm, scores } = this.components
    swarm.announceTask(task.id, false)
    let transfer: Promise<void>
    if (plan.probe?.wholeBody !== undefined) {
      transfer = fillFromWholeBody(plan.probe.wholeBody, { task, file, onPiece, signal, pace: this.init.originPace })
    } else {
      transfer = new SwarmDownload({ origin: this.components.origin, swarm, scores, logger: this.components.logger, metrics: this.components.metrics }, {
        task,
        file,
        source: () => active.source,
        originConcurrency: this.init.concurrency,
        originPace: this.init.originPace,
        originPlan: plan.origin(task.plan.pieceCount),
        backToSource: this.init.backToSource ?? true,
        stallMs: this.init.stallMs ?? 10_000,
        holders: plan.holders,
        partners: plan.partners,
        onPiece,
        signal
      }).run()
    }
    // The whole-file hash follows the download piece by piece; the task is complete only once
    // it matches. Its outcome matters once the transfer is done (a failed transfer pauses the
    // task, which ends the check too).
    const checking = task.awaitingWholeFileCheck ? checkWholeFile(task, file, signal) : undefined
    checking?.catch(() => {})
    const checked = transfer.then(async () => {
      if (checking === undefined) return
      const result = await checking
      if (!result.ok) throw result.error
      task.markVerified()
      this.refetchFromOrigin.delete(task.id)
    })
    active.done = checked.then(
      () => {
        task.finish()
        swarm.announceTask(task.id, true)
        this.log.info('task complete', { task: task.id, bytes: task.length, pieces: task.plan.pieceCount - heldAtStart, ms: Date.now() - started })
      },
      (error: unknown) => {
        if (error instanceof IntegrityError) {
          this.condemn(task, error)
          return
        }
        task.pause(error instanceof Error ? error : new Error(String(error)))
        if (!(error instanceof AbortedError)) this.log.warn('task download stopped', { task: task.id, url: redactUrl(active.source.url), error })
      }
    ).finally(async () => {
      this.countBytes(active)
      clearTimeout(active.checkpointTimer)
      await this.checkpoint(active)
      await file.close().catch(() => {})
      if (task.status === 'quarantined') await this.moveAside(task)
      this.active.delete(task.id)
    })
  }

  /**
   * A piece of a complete task failed its sha256 when read back from disk: it is dropped and
   * fetched again (from peers or the origin) while the caller follows the download.
   */
  async repair (request: TaskRequest, task: Task, index: number, signal: AbortSignal): Promise<Task> {
    this.log.warn('piece failed its sha256 check on read: refetching it', { task: task.id, piece: index })
    if (task.bitmap.has(index)) {
      // Even while a finished download is still closing its files: else the next request would
      // find the task complete and read the same rotten block again.
      task.invalidatePiece(index)
      if (!this.active.has(task.id)) await this.components.store.writeMeta(task.toMeta())
    }
    return (await this.acquire(request, signal)).task
  }

  /**
   * The whole file is wrong. Readers are cut, the copy is moved aside, the next request goes
   * to the origin, and the peers that supplied pieces lose standing (not a ban: they may have
   * relayed in good faith what a lying origin gave a seed).
   */
  private condemn (task: Task, error: IntegrityError): void {
    task.quarantine(error)
    this.refetchFromOrigin.add(task.id)
    this.components.swarm.withdrawTask(task.id)
    const peers = [...task.peerSuppliers()]
    for (const peer of peers) this.components.scores.failed(peer, 'bad-file')
    this.log.error('task failed its sha256 check: quarantined', { task: task.id, peers, error })
  }

  private async moveAside (task: Task): Promise<void> {
    await this.components.store.quarantine(task.id)
    if (this.tasks.get(task.id) === task) this.tasks.delete(task.id)
  }

  /** A complete task on disk whose whole-file hash was never checked (a crash, an older node). */
  private checkStored (task: Task): void {
    if (this.storedChecks.has(task.id)) return
    const check = (async () => {
      const file = await this.open(task)
      const result = await checkWholeFile(task, file, this.lifetime.signal).finally(async () => { await file.close() })
      if (result.ok) {
        task.markVerified()
        await this.components.store.writeMeta(task.toMeta())
        return
      }
      this.condemn(task, result.error)
      await this.moveAside(task)
    })().catch(async (error: unknown) => {
      if (this.lifetime.signal.aborted) return
      // Readers wait for this check: a copy that cannot be checked is not served (fail closed).
      this.log.warn('cannot check a stored task: refetching it', { task: task.id, error })
      this.condemn(task, new IntegrityError(`task ${task.id} could not be checked: ${(error as Error).message}`))
      await this.moveAside(task).catch(() => {})
    }).finally(() => { this.storedChecks.delete(task.id) })
    this.storedChecks.set(task.id, check)
  }

  /**
   * Adds the bytes the task gained since the last call to the metrics: the task counts each
   * landed piece once by its source, whichever path landed it, so this is the only place.
   */
  private countBytes (active: ActiveDownload): void {
    const { metrics } = this.components
    const { origin, peers } = active.task.bytesBySource
    metrics?.bytes('origin', origin - active.counted.origin)
    metrics?.bytes('peer', peers - active.counted.peers)
    active.counted = { origin, peers }
  }

  private scheduleCheckpoint (active: ActiveDownload): void {
    if (active.checkpointTimer !== undefined) return
    active.checkpointTimer = setTimeout(() => {
      active.checkpointTimer = undefined
      void this.checkpoint(active)
    }, this.init.checkpointIntervalMs ?? 250)
  }

  /** Data first, then the metadata that claims it: a crash in between only loses claims. */
  private async checkpoint (active: ActiveDownload): Promise<void> {
    active.checkpoints = active.checkpoints.then(async () => {
      // Claims are taken before the sync: a piece landing during it waits for the next checkpoint.
      const meta = active.task.toMeta()
      for (const { firstBlock, bytes } of active.task.blocks.takeDirty()) await active.file.writeBlockHashes(firstBlock, bytes)
      await active.file.sync()
      await this.components.store.writeMeta(meta)
    }).catch((error: unknown) => {
      this.log.error('cannot checkpoint task', { task: active.task.id, error })
    })
    await active.checkpoints
  }
}

function newMeta (request: TaskRequest, probe: ContentShape, configuredPieceSize: number): TaskMeta {
  const pieceSize = probe.pieceSize ?? pieceSizeFor(probe.length, configuredPieceSize)
  const plan = new PiecePlan(probe.length, pieceSize)
  const now = Date.now()
  const meta: TaskMeta = {
    version: 1,
    id: request.key.id,
    key: request.key.key,
    url: redactUrl(request.source.url),
    length: probe.length,
    pieceSize,
    blockSize: Math.min(blockBytes, pieceSize),
    headers: { ...probe.headers },
    bitmap: new Bitmap(plan.pieceCount).toBase64(),
    digests: new Array<string | null>(plan.pieceCount).fill(null),
    createdAt: now,
    lastAccessAt: now
  }
  if (probe.etag !== undefined) meta.etag = probe.etag
  if (request.key.contentSha256 !== undefined) meta.sha256 = request.key.contentSha256
  if (request.private === true || probe.private === true) meta.private = true
  return meta
}
