import { AbortedError, IntegrityError, redactUrl } from '../errors.js'
import type { Pace } from '../limits/token-bucket.js'
import type { Logger } from '../logging/logger.js'
import type { Metrics } from '../metrics/metrics.js'
import type { OriginSource } from '../origin/origin-client.js'
import type { Swarm } from '../p2p/swarm.js'
import type { TaskFile, TaskStore } from '../storage/task-files.js'
import { fillFromWholeBody } from './origin-download.js'
import type { Quarantine } from './quarantine.js'
import type { DownloadPlan } from './source-planner.js'
import { SwarmDownload, type SwarmDownloadComponents } from './swarm-download.js'
import type { Task } from './task.js'
import { checkWholeFile } from './whole-file-check.js'
import { openWholeFileHash } from '../storage/hash-pool.js'

export interface DownloadRunComponents {
  origin: SwarmDownloadComponents['origin']
  swarm: SwarmDownloadComponents['swarm'] & Pick<Swarm, 'announceTask'>
  scores: SwarmDownloadComponents['scores']
  store: Pick<TaskStore, 'writeMeta'>
  quarantine: Pick<Quarantine, 'condemn' | 'moveAside' | 'cleared'>
  logger: Logger
  metrics?: Pick<Metrics, 'bytes' | 'pieceFetched' | 'peerBytesWasted'> & Partial<Pick<Metrics, 'wholeFileHash'>>
}

/** How every download of the node runs (TaskManagerInit's download settings). */
export interface DownloadSettings {
  /** Ranged origin GETs in flight per task. */
  concurrency: number
  /** How often a running download's metadata is made durable. @default 250 */
  checkpointIntervalMs?: number
  /** Fetch from the origin what no peer supplies in time. @default true */
  backToSource?: boolean
  /** How long peers may make no progress before the origin is used. @default 10000 */
  stallMs?: number
  /** Paces every byte taken from the origin (back-to-source rate). @default unlimited */
  originPace?: Pace
}

export interface DownloadRunInit extends DownloadSettings {
  task: Task
  /** The task's data, open for writing: the run owns it and closes it. */
  file: TaskFile
  source: OriginSource
  plan: DownloadPlan
  /** Called once the run has saved its state, closed its file and moved a bad copy aside. */
  onEnd: () => void
  signal: AbortSignal
}

/**
 * One task's download, from start to its last checkpoint: the whole body of the probe, or the
 * swarm download (peers and origin), followed piece by piece by the whole-file check. Pieces
 * are made durable in checkpoints (data, then the metadata claiming it); a copy that fails its
 * check is condemned and moved aside. `done` settles after all of that, never rejects.
 */
export class DownloadRun {
  readonly task: Task
  /** The latest origin source: a client that joins brings a fresher signed URL. */
  source: OriginSource
  /** Settles once the run ended and its file is closed. */
  done: Promise<void> = Promise.resolve()
  private readonly components: DownloadRunComponents
  private readonly init: DownloadRunInit
  private readonly log: Logger
  /** Task bytes by source already added to the metrics. */
  private counted: { origin: number, peers: number }
  private checkpointTimer?: NodeJS.Timeout
  private checkpoints: Promise<void> = Promise.resolve()

  constructor (components: DownloadRunComponents, init: DownloadRunInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('tasks')
    this.task = init.task
    this.source = init.plan.probe?.finalSource ?? init.source
    this.counted = { origin: init.task.bytesBySource.origin, peers: init.task.bytesBySource.peers }
  }

  /** Starts the transfer; `done` follows it. */
  start (): void {
    const { task, file, plan, signal } = this.init
    const { swarm, scores } = this.components
    const onPiece = (): void => {
      this.countBytes()
      this.scheduleCheckpoint()
    }
    const started = Date.now()
    const heldAtStart = task.bitmap.count
    task.startDownloading()
    swarm.announceTask(task.id, false)
    // The whole-file hash follows the download: blocks landing in order feed it as they are
    // hashed; the check reads back from disk only what did not (whole-file-check.ts).
    const whole = task.awaitingWholeFileCheck && task.expectedSha256 !== undefined ? openWholeFileHash(task.length) : undefined
    let transfer: Promise<void>
    if (plan.probe?.wholeBody !== undefined) {
      transfer = fillFromWholeBody(plan.probe.wholeBody, { task, file, onPiece, signal, pace: this.init.originPace, whole })
    } else {
      transfer = new SwarmDownload({ origin: this.components.origin, swarm, scores, logger: this.components.logger, metrics: this.components.metrics }, {
        task,
        file,
        source: () => this.source,
        originConcurrency: this.init.concurrency,
        originPace: this.init.originPace,
        originPlan: plan.origin(task.plan.pieceCount),
        backToSource: this.init.backToSource ?? true,
        stallMs: this.init.stallMs ?? 10_000,
        holders: plan.holders,
        partners: plan.partners,
        elected: plan.elected,
        whole,
        onPiece,
        signal
      }).run()
    }
    // The task is complete only once the whole-file hash matches. Its outcome matters once the
    // transfer is done (a failed transfer pauses the task, which ends the check too).
    const checking = whole !== undefined ? checkWholeFile(task, file, signal, whole) : undefined
    checking?.catch(() => {})
    const checked = transfer.then(async () => {
      if (checking === undefined || whole === undefined) return
      const result = await checking
      // What landing in order saved: bytes hashed from the blocks as they landed, not read back.
      this.components.metrics?.wholeFileHash?.('landed', whole.position - whole.readBackBytes)
      this.components.metrics?.wholeFileHash?.('read', whole.readBackBytes)
      if (!result.ok) throw result.error
      task.markVerified()
      this.components.quarantine.cleared(task.id)
    })
    this.done = checked.then(
      () => {
        task.finish()
        swarm.announceTask(task.id, true)
        this.log.info('task complete', { task: task.id, bytes: task.length, pieces: task.plan.pieceCount - heldAtStart, ms: Date.now() - started, ...(whole === undefined ? {} : { wholeFileReadBack: whole.readBackBytes }) })
      },
      (error: unknown) => {
        if (error instanceof IntegrityError) {
          this.components.quarantine.condemn(task, error)
          return
        }
        task.pause(error instanceof Error ? error : new Error(String(error)))
        if (!(error instanceof AbortedError)) this.log.warn('task download stopped', { task: task.id, url: redactUrl(this.source.url), error })
      }
    ).finally(async () => {
      this.countBytes()
      clearTimeout(this.checkpointTimer)
      await this.checkpoint()
      await file.close().catch(() => {})
      if (task.status === 'quarantined') await this.components.quarantine.moveAside(task)
      this.init.onEnd()
    })
  }

  /** Makes the task's progress durable soon (at most one checkpoint waits at a time). */
  scheduleCheckpoint (): void {
    if (this.checkpointTimer !== undefined) return
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined
      void this.checkpoint()
    }, this.init.checkpointIntervalMs ?? 250)
  }

  /**
   * Adds the bytes the task gained since the last call to the metrics: the task counts each
   * landed piece once by its source, whichever path landed it, so this is the only place.
   */
  private countBytes (): void {
    const { metrics } = this.components
    const { origin, peers } = this.task.bytesBySource
    metrics?.bytes('origin', origin - this.counted.origin)
    metrics?.bytes('peer', peers - this.counted.peers)
    this.counted = { origin, peers }
  }

  /** Data first, then the metadata that claims it: a crash in between only loses claims. */
  private async checkpoint (): Promise<void> {
    const { task, file } = this.init
    this.checkpoints = this.checkpoints.then(async () => {
      // Claims are taken before the sync: a piece landing during it waits for the next checkpoint.
      const meta = task.toMeta()
      for (const { firstBlock, bytes } of task.blocks.takeDirty()) await file.writeBlockHashes(firstBlock, bytes)
      await file.sync()
      await this.components.store.writeMeta(meta)
    }).catch((error: unknown) => {
      this.log.error('cannot checkpoint task', { task: task.id, error })
    })
    await this.checkpoints
  }
}
