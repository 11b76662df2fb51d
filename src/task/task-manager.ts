import type { FileHandle } from 'node:fs/promises'
import { abortable } from '../abort.js'
import { AbortedError, redactUrl } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { OriginClient, OriginSource, ProbeResult } from '../origin/origin-client.js'
import type { TaskMeta } from '../storage/task-meta.js'
import type { TaskStore } from '../storage/task-store.js'
import { Bitmap } from '../storage/bitmap.js'
import { downloadFromOrigin, fillFromWholeBody } from './origin-download.js'
import { PiecePlan, pieceSizeFor } from './piece-plan.js'
import type { TaskKey } from './task-key.js'
import { Task } from './task.js'

export interface TaskManagerComponents {
  store: TaskStore
  origin: OriginClient
  logger: Logger
}

export interface TaskManagerInit {
  /** Bytes per piece; 0 picks it from the length (DESIGN.md). */
  pieceSize: number
  /** Ranged origin GETs in flight per task. */
  concurrency: number
  /** How often a running download's metadata is made durable. @default 250 */
  checkpointIntervalMs?: number
}

export interface TaskRequest {
  key: TaskKey
  /** The client's URL and headers: used to fetch, or to refresh a running fetch's source. */
  source: OriginSource
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
  checkpointTimer?: NodeJS.Timeout
  checkpoints: Promise<void>
  done: Promise<void>
}

/**
 * Every task the node knows, and the one download running for each (single flight):
 * callers asking for the same content at once share one probe and one set of origin fetches.
 */
export class TaskManager {
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

  private async begin (request: TaskRequest, known: Task | undefined): Promise<Task> {
    const signal = this.lifetime.signal
    const probe = await this.components.origin.probe(request.source, signal)
    let task = known
    let file: FileHandle
    if (task !== undefined && this.canResume(task, probe, request.key)) {
      file = await this.components.store.openForWrite(task.id)
      this.log.info('resuming task', { task: task.id, held: task.bitmap.count, pieces: task.plan.pieceCount })
    } else {
      if (task !== undefined) this.log.warn('origin content changed, starting the task over', { task: task.id })
      const meta = newMeta(request, probe, this.init.pieceSize)
      file = await this.components.store.create(meta)
      task = new Task(meta, this.components.store.dataPath(meta.id))
      this.tasks.set(task.id, task)
    }
    if (signal.aborted) {
      await file.close()
      throw new AbortedError()
    }
    this.run(task, file, probe)
    return task
  }

  private canResume (task: Task, probe: ProbeResult, key: TaskKey): boolean {
    if (task.length !== probe.length) return false
    // A content-addressed key already names the bytes; a URL key needs the validator to agree.
    if (key.contentSha256 !== undefined) return true
    return task.etag === probe.etag
  }

  private run (task: Task, file: FileHandle, probe: ProbeResult): void {
    const signal = this.lifetime.signal
    const onPiece = (): void => { this.scheduleCheckpoint(active) }
    const started = Date.now()
    const heldAtStart = task.bitmap.count
    task.startDownloading()
    const active: ActiveDownload = {
      task,
      file,
      source: probe.finalSource,
      checkpoints: Promise.resolve(),
      done: Promise.resolve()
    }
    this.active.set(task.id, active)
    const transfer = probe.wholeBody !== undefined
      ? fillFromWholeBody(probe.wholeBody, { task, file, onPiece, signal })
      : downloadFromOrigin(this.components, { task, file, source: () => active.source, concurrency: this.init.concurrency, onPiece, signal })
    active.done = transfer.then(
      () => {
        task.finish()
        this.log.info('task complete', { task: task.id, bytes: task.length, pieces: task.plan.pieceCount - heldAtStart, ms: Date.now() - started })
      },
      (error: unknown) => {
        task.pause(error instanceof Error ? error : new Error(String(error)))
        if (!(error instanceof AbortedError)) this.log.warn('task download stopped', { task: task.id, url: redactUrl(active.source.url), error })
      }
    ).finally(async () => {
      clearTimeout(active.checkpointTimer)
      await this.checkpoint(active)
      await file.close().catch(() => {})
      this.active.delete(task.id)
    })
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

function newMeta (request: TaskRequest, probe: ProbeResult, configuredPieceSize: number): TaskMeta {
  const pieceSize = pieceSizeFor(probe.length, configuredPieceSize)
  const plan = new PiecePlan(probe.length, pieceSize)
  const now = Date.now()
  const meta: TaskMeta = {
    version: 1,
    id: request.key.id,
    key: request.key.key,
    url: redactUrl(request.source.url),
    length: probe.length,
    pieceSize,
    headers: probe.headers,
    bitmap: new Bitmap(plan.pieceCount).toBase64(),
    digests: new Array<string | null>(plan.pieceCount).fill(null),
    createdAt: now,
    lastAccessAt: now
  }
  if (probe.etag !== undefined) meta.etag = probe.etag
  return meta
}
