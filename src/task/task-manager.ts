import { createHash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { abortable } from '../abort.js'
import { AbortedError, redactUrl } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { OriginClient, OriginSource, ProbeResult } from '../origin/origin-client.js'
import type { TaskMeta } from '../storage/task-meta.js'
import type { TaskStore } from '../storage/task-store.js'
import { Bitmap } from '../storage/bitmap.js'
import { fillFromWholeBody } from './origin-download.js'
import { PiecePlan, pieceSizeFor } from './piece-plan.js'
import type { TaskKey } from './task-key.js'
import { Task } from './task.js'
import type { LocalTasks } from '../p2p/local-tasks.js'
import type { FetchRequest, FetchResponse, TaskMetadata } from '../p2p/messages.js'
import type { Holder, Swarm } from '../p2p/swarm.js'
import type { PeerScores } from '../scheduling/peer-scores.js'
import { electSeeds, shareOf } from '../scheduling/rendezvous.js'
import { withoutCredentials } from '../origin/http-headers.js'
import { SwarmDownload, type OriginPlan } from './swarm-download.js'
import type { Metrics } from '../metrics/metrics.js'

export interface TaskManagerComponents {
  store: TaskStore
  origin: OriginClient
  logger: Logger
  swarm: Swarm
  scores: PeerScores
  metrics?: Pick<Metrics, 'bytes' | 'pieceFetched'>
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
}

export interface TaskRequest {
  key: TaskKey
  /** The client's URL and headers: used to fetch, or to refresh a running fetch's source. */
  source: OriginSource
  /** Set when an elected seed fetches for a peer: the seeds elected, to derive this seed's share. */
  elected?: string[]
}

export interface AcquiredTask {
  task: Task
  /** The task was complete on disk when asked for. */
  hit: boolean
}

interface ActiveDownload {
  task: Task
  file: FileHandle
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
}

/** How a download is to be run once the task exists. */
interface DownloadPlan {
  probe?: ProbeResult
  holders: Holder[]
  /** Pieces fetched from the origin at once; computed when the piece count is known. */
  origin: (pieceCount: number) => OriginPlan
}

/**
 * Every task the node knows, and the one download running for each (single flight):
 * callers asking for the same content at once share one probe and one set of fetches. With a
 * swarm, content comes from peers first; a cold task is fetched by the elected seeds.
 */
export class TaskManager implements LocalTasks {
  private readonly components: TaskManagerComponents
  private readonly init: TaskManagerInit
  private readonly log: Logger
  private readonly tasks = new Map<string, Task>()
  private readonly starting = new Map<string, Promise<Task>>()
  private readonly active = new Map<string, ActiveDownload>()
  private readonly lifetime = new AbortController()

  constructor (components: TaskManagerComponents, init: TaskManagerInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('tasks')
  }

  /** Loads the tasks a previous run left: complete ones serve at once, partial ones resume on demand. */
  async start (): Promise<void> {
    for (const meta of await this.components.store.list()) {
      this.tasks.set(meta.id, new Task(meta, this.components.store.dataPath(meta.id)))
    }
    const partial = [...this.tasks.values()].filter(task => task.status !== 'complete').length
    this.log.info('cache loaded', { tasks: this.tasks.size, partial })
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
    const known = this.tasks.get(id)
    if (known?.status === 'complete') {
      known.touch()
      return { task: known, hit: true }
    }
    const running = this.active.get(id)
    if (running !== undefined) {
      running.source = request.source
      return { task: running.task, hit: false }
    }
    let starting = this.starting.get(id)
    if (starting === undefined) {
      starting = this.begin(request, known)
      this.starting.set(id, starting)
      const forget = (): void => { this.starting.delete(id) }
      starting.then(forget, forget)
    }
    return { task: await abortable(starting, signal), hit: false }
  }

  /** Stops every download, leaving durable metadata for a later resume. */
  async stop (): Promise<void> {
    this.lifetime.abort()
    await Promise.allSettled([...this.starting.values(), ...[...this.active.values()].map(active => active.done)])
    await this.components.origin.close()
  }

  // ---- LocalTasks: what peers may ask of this node --------------------------------------

  metadata (taskId: string): TaskMetadata | undefined {
    const task = this.tasks.get(taskId)
    if (task === undefined) return undefined
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
    return result
  }

  async readBlock (taskId: string, piece: number, offset: number, length: number): Promise<{ data: Buffer, digest?: string } | undefined> {
    const task = this.tasks.get(taskId)
    if (task === undefined || piece >= task.plan.pieceCount || !task.bitmap.has(piece)) return undefined
    if (offset + length > task.plan.size(piece)) return undefined
    const file = await open(task.dataPath, 'r')
    try {
      const data = Buffer.allocUnsafe(length)
      const { bytesRead } = await file.read(data, 0, length, task.plan.start(piece) + offset)
      if (bytesRead !== length) return undefined
      const digest = task.digestOf(piece)
      return digest === undefined ? { data } : { data, digest }
    } finally {
      await file.close()
    }
  }

  /** Seeds: a peer elected us to fetch (our share of) a task from the origin. */
  async fetchForPeer (request: FetchRequest, signal: AbortSignal): Promise<TaskMetadata> {
    if (createHash('sha256').update(request.key).digest('hex') !== request.task) throw new Error('task id does not match its key')
    const oid = /^sha256:([0-9a-f]{64})$/.exec(request.key)?.[1]
    const key: TaskKey = oid === undefined ? { key: request.key, id: request.task } : { key: request.key, id: request.task, contentSha256: oid }
    const { task } = await this.acquire({ key, source: { url: request.url, headers: request.headers }, elected: request.share?.elected }, signal)
    const meta = this.metadata(task.id)
    if (meta === undefined) throw new Error('task vanished')
    return meta
  }

  // ---- starting a download ----------------------------------------------------------------

  private async begin (request: TaskRequest, known: Task | undefined): Promise<Task> {
    const signal = this.lifetime.signal
    const { plan, shape } = await this.plan(request, signal)
    let task = known
    let file: FileHandle
    if (task !== undefined && this.canResume(task, shape, request.key)) {
      file = await this.components.store.openForWrite(task.id)
      this.log.info('resuming task', { task: task.id, held: task.bitmap.count, pieces: task.plan.pieceCount })
    } else {
      if (task !== undefined) this.log.warn('content changed, starting the task over', { task: task.id })
      const meta = newMeta(request, shape, this.init.pieceSize)
      file = await this.components.store.create(meta)
      task = new Task(meta, this.components.store.dataPath(meta.id))
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
    const self = swarm.peerId
    if (request.elected !== undefined) {
      const elected = request.elected
      return await fromOrigin(pieceCount => new Set(shareOf(request.key.key, elected, self, pieceCount)))
    }
    const holders = await swarm.findHolders(request.key.id, signal)
    const complete = holders.find(holder => holder.meta.complete)
    if (complete !== undefined) return { plan: { holders, origin: () => 'none' }, shape: complete.meta }
    const live = await swarm.liveSeeds()
    const elected = electSeeds(request.key.key, live, Math.min(live.length, 2))
    if (elected.includes(self)) {
      const others = elected.filter(seed => seed !== self)
      const planned = await fromOrigin(pieceCount => new Set(shareOf(request.key.key, elected, self, pieceCount)), holders)
      for (const seed of others) void this.askSeed(seed, request, elected, signal)
      return planned
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
        share: { elected }
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

  private run (task: Task, file: FileHandle, source: OriginSource, plan: DownloadPlan): void {
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
      transfer = fillFromWholeBody(plan.probe.wholeBody, { task, file, onPiece, signal })
    } else {
      transfer = new SwarmDownload({ origin: this.components.origin, swarm, scores, logger: this.components.logger, metrics: this.components.metrics }, {
        task,
        file,
        source: () => active.source,
        originConcurrency: this.init.concurrency,
        originPlan: plan.origin(task.plan.pieceCount),
        backToSource: this.init.backToSource ?? true,
        stallMs: this.init.stallMs ?? 10_000,
        holders: plan.holders,
        onPiece,
        signal
      }).run()
    }
    active.done = transfer.then(
      () => {
        task.finish()
        swarm.announceTask(task.id, true)
        this.log.info('task complete', { task: task.id, bytes: task.length, pieces: task.plan.pieceCount - heldAtStart, ms: Date.now() - started })
      },
      (error: unknown) => {
        task.pause(error instanceof Error ? error : new Error(String(error)))
        if (!(error instanceof AbortedError)) this.log.warn('task download stopped', { task: task.id, url: redactUrl(active.source.url), error })
      }
    ).finally(async () => {
      this.countBytes(active)
      clearTimeout(active.checkpointTimer)
      await this.checkpoint(active)
      await file.close().catch(() => {})
      this.active.delete(task.id)
    })
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
      await active.file.datasync()
      await this.components.store.writeMeta(active.task.toMeta())
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
    headers: { ...probe.headers },
    bitmap: new Bitmap(plan.pieceCount).toBase64(),
    digests: new Array<string | null>(plan.pieceCount).fill(null),
    createdAt: now,
    lastAccessAt: now
  }
  if (probe.etag !== undefined) meta.etag = probe.etag
  return meta
}
