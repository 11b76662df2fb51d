import { abortable } from '../abort.js'
import { LimitReachedError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { OriginSource } from '../origin/origin-client.js'
import type { Swarm } from '../p2p/swarm.js'
import type { CachedTasks } from '../storage/cache-gc.js'
import type { CacheEntry } from '../storage/eviction.js'
import type { TaskStore } from '../storage/task-files.js'
import type { TaskKey } from './task-key.js'
import type { Task } from './task.js'

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

/** A download running for a task, as the registry sees it (download-run.ts). */
export interface RunningDownload {
  readonly task: Task
  /** The latest origin source; a joining client's replaces it. */
  source: OriginSource
  /** Settles once the download ended and its file is closed. */
  readonly done: Promise<void>
  /** Makes the task's progress durable soon (it owns the file and the metadata). */
  scheduleCheckpoint: () => void
}

/** What the registry needs of quarantine: stored copies are checked before they are served. */
export interface RegistryQuarantine {
  pendingCheck: (id: string) => Promise<void> | undefined
  checkStored: (task: Task) => void
}

export interface TaskRegistryComponents {
  store: Pick<TaskStore, 'writeMeta' | 'remove'>
  swarm: Pick<Swarm, 'withdrawTask'>
  quarantine: RegistryQuarantine
  /**
   * Starts the download of a task not complete here (`known`: what is on disk of it, if
   * anything); resolves once its length is known and the download runs (task-start.ts).
   */
  start: (request: TaskRequest, known: Task | undefined) => Promise<Task>
  logger: Logger
}

export interface TaskRegistryInit {
  /** Downloads running at once; 0 = unlimited. @default 0 */
  maxConcurrentTasks?: number
}

/** Tasks not created yet that a client with credentials resolved, kept at most. */
const privateSoonMax = 10_000

/**
 * Every task the node knows, and the one download running for each (single flight): callers
 * asking for the same content at once share one start and one download. Also what the cache
 * collector may see and do (CachedTasks).
 */
export class TaskRegistry implements CachedTasks {
  private readonly components: TaskRegistryComponents
  private readonly init: TaskRegistryInit
  private readonly log: Logger
  private readonly tasks = new Map<string, Task>()
  private readonly starting = new Map<string, Promise<Task>>()
  private readonly active = new Map<string, RunningDownload>()
  /** Tasks not created yet that a client with credentials resolved (oldest first, bounded). */
  private readonly privateSoon = new Set<string>()

  constructor (components: TaskRegistryComponents, init: TaskRegistryInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('tasks')
  }

  get (id: string): Task | undefined {
    return this.tasks.get(id)
  }

  list (): Task[] {
    return [...this.tasks.values()]
  }

  /** Registers `task` under its id (a loaded or newly created task). */
  add (task: Task): void {
    this.tasks.set(task.id, task)
  }

  /** Forgets the task registered under `id` (its content changed: it starts over). */
  remove (id: string): void {
    this.tasks.delete(id)
  }

  /** Forgets `task` if it is still the one registered under its id. */
  forget (task: Task): void {
    if (this.tasks.get(task.id) === task) this.tasks.delete(task.id)
  }

  /** Downloads running now. */
  get downloading (): number {
    return this.active.size
  }

  isDownloading (id: string): boolean {
    return this.active.has(id)
  }

  running (id: string): RunningDownload | undefined {
    return this.active.get(id)
  }

  /** Records a download that has started; `untrack` it when it ended. */
  track (run: RunningDownload): void {
    this.active.set(run.task.id, run)
  }

  untrack (run: RunningDownload): void {
    if (this.active.get(run.task.id) === run) this.active.delete(run.task.id)
  }

  /** Starts and downloads still running (awaited on stop). */
  settling (): Array<Promise<unknown>> {
    return [...this.starting.values(), ...[...this.active.values()].map(active => active.done)]
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
    const storedCheck = this.components.quarantine.pendingCheck(id)
    if (this.tasks.get(id)?.status === 'quarantined' && storedCheck !== undefined) await abortable(storedCheck, signal)
    const known = this.tasks.get(id)
    known?.touch()
    if (known?.status === 'complete') {
      if (known.awaitingWholeFileCheck) this.components.quarantine.checkStored(known)
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
      starting = this.components.start(request, known)
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
        if (this.privateSoon.size <= privateSoonMax) break
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

  /** Whether a client with credentials resolved the task before it existed; forgets it. */
  takePrivate (id: string): boolean {
    return this.privateSoon.delete(id)
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
}
