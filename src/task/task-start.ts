import { AbortedError, NotCacheableError, redactUrl } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { OriginSource } from '../origin/origin-client.js'
import type { CacheGc } from '../storage/cache-gc.js'
import { Bitmap } from '../storage/bitmap.js'
import { blockBytes } from '../storage/blocks.js'
import type { TaskMeta } from '../storage/task-meta.js'
import type { TaskFile, TaskStore } from '../storage/task-files.js'
import { PiecePlan, pieceSizeFor, type PieceRule } from './piece-plan.js'
import type { ContentShape, DownloadPlan, SourcePlanner } from './source-planner.js'
import type { TaskKey } from './task-key.js'
import type { TaskRegistry, TaskRequest } from './task-registry.js'
import { Task } from './task.js'

export interface TaskStartComponents {
  planner: Pick<SourcePlanner, 'plan'>
  store: Pick<TaskStore, 'open' | 'create'>
  /** Takes room for a new task's whole content, evicting what it must; false when it cannot. */
  room: Pick<CacheGc, 'makeRoom'>
  tasks: Pick<TaskRegistry, 'add' | 'remove' | 'takePrivate'>
  /** Runs the download of a task whose data is open for writing (download-run.ts). */
  launch: (task: Task, file: TaskFile, source: OriginSource, plan: DownloadPlan) => void
  logger: Logger
}

export interface TaskStartInit {
  /** Bytes per piece; 0 picks it from the length (DESIGN.md). */
  pieceSize: number
}

/**
 * Starts one download: plans its sources, resumes the task on disk when its content is still
 * the same (or creates it afresh, its whole room taken at once), then launches the run.
 * `signal` is the node's lifetime: a start outlives the client that asked for it.
 */
export class TaskStart {
  private readonly components: TaskStartComponents
  private readonly init: TaskStartInit
  private readonly log: Logger
  private readonly signal: AbortSignal
  /** Bytes promised to tasks being created, not yet registered. */
  private reservedBytes = 0

  constructor (components: TaskStartComponents, init: TaskStartInit, signal: AbortSignal) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('tasks')
    this.signal = signal
  }

  async start (request: TaskRequest, known: Task | undefined): Promise<Task> {
    const { signal } = this
    const { store, tasks } = this.components
    const { plan, shape } = await this.components.planner.plan(request, signal)
    let task = known
    let file: TaskFile
    if (task !== undefined && task.status !== 'quarantined' && canResume(task, shape, request.key)) {
      file = await store.open(task.id, 'write')
      this.log.info('resuming task', { task: task.id, held: task.bitmap.count, pieces: task.plan.pieceCount })
    } else {
      if (task !== undefined) {
        this.log.warn('content changed, starting the task over', { task: task.id })
        tasks.remove(task.id)
      }
      // The whole content's room is taken now, so the download never fails halfway for want of quota.
      if (!this.components.room.makeRoom(shape.length, this.reservedBytes)) {
        plan.probe?.wholeBody?.destroy()
        throw new NotCacheableError(`a ${shape.length}-byte content does not fit in the cache quota beside the tasks in use`)
      }
      const meta = newMeta({ ...request, private: request.private === true || tasks.takePrivate(request.key.id) }, shape, this.init.pieceSize, plan.pieceRule)
      this.reservedBytes += shape.length
      try {
        file = await store.create(meta)
      } finally {
        this.reservedBytes -= shape.length
      }
      task = new Task(meta)
      tasks.add(task)
    }
    if (signal.aborted) {
      plan.probe?.wholeBody?.destroy()
      await file.close()
      throw new AbortedError()
    }
    this.components.launch(task, file, request.source, plan)
    return task
  }
}

/** The task on disk holds the same content as `shape` describes: its pieces may be kept. */
export function canResume (task: Task, shape: ContentShape, key: TaskKey): boolean {
  if (task.length !== shape.length) return false
  if (shape.pieceSize !== undefined && shape.pieceSize !== task.plan.pieceSize) return false
  // A content-addressed key already names the bytes; a URL key needs the validator to agree.
  if (key.contentSha256 !== undefined) return true
  return task.etag === shape.etag
}

function newMeta (request: TaskRequest, probe: ContentShape, configuredPieceSize: number, rule: PieceRule = 'pipelined'): TaskMeta {
  const pieceSize = probe.pieceSize ?? pieceSizeFor(probe.length, configuredPieceSize, rule)
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
