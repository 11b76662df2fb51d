import { IntegrityError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { Swarm } from '../p2p/swarm.js'
import type { PeerScores } from '../scheduling/peer-scores.js'
import type { TaskStore } from '../storage/task-files.js'
import type { Task } from './task.js'
import { checkWholeFile } from './whole-file-check.js'

/** What quarantine needs of the task registry. */
export interface QuarantineTasks {
  /** Forgets `task` if it is still the one registered under its id. */
  forget: (task: Task) => void
  /** A download runs for the task (it owns the metadata and writes it itself). */
  isDownloading: (id: string) => boolean
}

export interface QuarantineComponents {
  store: Pick<TaskStore, 'open' | 'writeMeta' | 'quarantine'>
  swarm: Pick<Swarm, 'withdrawTask'>
  scores: Pick<PeerScores, 'failed'>
  tasks: QuarantineTasks
  logger: Logger
}

/**
 * Bad bytes: a copy whose whole-file sha256 is wrong is moved aside (and the next download of
 * it goes to the origin), a complete copy never checked is checked before it is served, and a
 * piece that read back wrong is dropped so that it is fetched again. `signal` ends the checks
 * (the node stopping).
 */
export class Quarantine {
  private readonly components: QuarantineComponents
  private readonly log: Logger
  private readonly signal: AbortSignal
  /** Tasks whose last copy failed its sha256 check: the next download skips peers. */
  private readonly refetchFromOrigin = new Set<string>()
  /** Whole-file checks of complete tasks found unverified on disk (one per task). */
  private readonly storedChecks = new Map<string, Promise<void>>()
  /** Metadata writes recording dropped pieces: awaited on stop, so none lands after it. */
  private readonly dropWrites = new Set<Promise<void>>()

  constructor (components: QuarantineComponents, signal: AbortSignal) {
    this.components = components
    this.log = components.logger.forComponent('tasks')
    this.signal = signal
  }

  /** The task's last copy failed its check: its next download must come from the origin. */
  mustRefetch (id: string): boolean {
    return this.refetchFromOrigin.has(id)
  }

  /** A copy of the task passed its check: peers may supply it again. */
  cleared (id: string): void {
    this.refetchFromOrigin.delete(id)
  }

  /** The check of a stored copy running for the task, if any. */
  pendingCheck (id: string): Promise<void> | undefined {
    return this.storedChecks.get(id)
  }

  /** Every check and write still running (awaited on stop). */
  running (): Array<Promise<void>> {
    return [...this.storedChecks.values(), ...this.dropWrites]
  }

  /**
   * The whole file is wrong. Readers are cut, the copy is moved aside, the next request goes
   * to the origin, and the peers that supplied pieces lose standing (not a ban: they may have
   * relayed in good faith what a lying origin gave a seed).
   */
  condemn (task: Task, error: IntegrityError): void {
    task.quarantine(error)
    this.refetchFromOrigin.add(task.id)
    this.components.swarm.withdrawTask(task.id)
    const peers = [...task.peerSuppliers()]
    for (const peer of peers) this.components.scores.failed(peer, 'bad-file')
    this.log.error('task failed its sha256 check: quarantined', { task: task.id, peers, error })
  }

  async moveAside (task: Task): Promise<void> {
    await this.components.store.quarantine(task.id)
    this.components.tasks.forget(task)
  }

  /** A complete task on disk whose whole-file hash was never checked (a crash, an older node). */
  checkStored (task: Task): void {
    if (this.storedChecks.has(task.id)) return
    const { store } = this.components
    const check = (async () => {
      const file = await store.open(task.id, 'read')
      const result = await checkWholeFile(task, file, this.signal).finally(async () => { await file.close() })
      if (result.ok) {
        task.markVerified()
        await store.writeMeta(task.toMeta())
        return
      }
      this.condemn(task, result.error)
      await this.moveAside(task)
    })().catch(async (error: unknown) => {
      if (this.signal.aborted) return
      // Readers wait for this check: a copy that cannot be checked is not served (fail closed).
      this.log.warn('cannot check a stored task: refetching it', { task: task.id, error })
      this.condemn(task, new IntegrityError(`task ${task.id} could not be checked: ${(error as Error).message}`))
      await this.moveAside(task).catch(() => {})
    }).finally(() => { this.storedChecks.delete(task.id) })
    this.storedChecks.set(task.id, check)
  }

  /** A held piece read back wrong (bit rot): dropped, so the next download fetches it again. */
  dropRotten (task: Task, piece: number): void {
    if (!task.bitmap.has(piece)) return
    this.log.warn('piece failed its sha256 check on read: dropping it', { task: task.id, piece })
    task.invalidatePiece(piece)
    if (!this.components.tasks.isDownloading(task.id)) {
      const write = this.components.store.writeMeta(task.toMeta()).catch((error: unknown) => {
        this.log.warn('cannot record a dropped piece', { task: task.id, error })
      }).finally(() => { this.dropWrites.delete(write) })
      this.dropWrites.add(write)
    }
  }

  /**
   * A piece of a complete task failed its sha256 when read back for a client: it is dropped
   * (durably, unless a download owns the metadata) before the client follows a new download.
   */
  async dropForRepair (task: Task, piece: number): Promise<void> {
    this.log.warn('piece failed its sha256 check on read: refetching it', { task: task.id, piece })
    if (task.bitmap.has(piece)) {
      // Even while a finished download is still closing its files: else the next request would
      // find the task complete and read the same rotten block again.
      task.invalidatePiece(piece)
      if (!this.components.tasks.isDownloading(task.id)) await this.components.store.writeMeta(task.toMeta())
    }
  }
}
