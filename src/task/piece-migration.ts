import { abortable } from '../abort.js'
import { BlockMismatchError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { TaskStore } from '../storage/task-files.js'
import { reverifyPiece } from './reverify-piece.js'
import type { Task } from './task.js'

export interface PieceMigrationComponents {
  store: Pick<TaskStore, 'open' | 'writeMeta'>
  logger: Logger
  /**
   * Asks the task's running download, if there is one, to checkpoint soon (it owns the file and
   * saves dirty block hashes itself); false when none runs.
   */
  checkpointIfDownloading: (task: Task) => boolean
  /** Drops a held piece that failed its check, so it is fetched again. */
  dropRotten: (task: Task, piece: number) => void
}

/**
 * Pieces stored without block hashes (a cache written by 0.1.0) get them here: each is read
 * back and checked against its piece sha256 (reverify-piece.ts), then its block hashes are
 * saved. Readers meeting such a piece and the start-up pass share one check per piece.
 */
export class PieceMigration {
  private readonly components: PieceMigrationComponents
  private readonly log: Logger
  private readonly signal: AbortSignal
  private readonly running = new Map<string, Promise<void>>()

  /** `signal` ends every check (the node stopping). */
  constructor (components: PieceMigrationComponents, signal: AbortSignal) {
    this.components = components
    this.log = components.logger.forComponent('tasks')
    this.signal = signal
  }

  /** VerifiedReadInit.verifyPiece for `task`. */
  verifierOf (task: Task): (piece: number, signal: AbortSignal) => Promise<void> {
    return async (piece, signal) => {
      const key = `${task.id}:${piece}`
      let running = this.running.get(key)
      if (running === undefined) {
        running = this.check(task, piece).finally(() => { this.running.delete(key) })
        this.running.set(key, running)
      }
      await abortable(running, signal)
    }
  }

  /**
   * Re-verifies, one piece at a time, every piece of `tasks` stored without block hashes: a
   * rotten piece is dropped before anyone asks for it. `current` says whether a task is still
   * the node's (not evicted or replaced meanwhile).
   */
  async migrateAll (tasks: Task[], current: (task: Task) => boolean): Promise<void> {
    let migrated = 0
    for (const task of tasks) {
      for (const piece of task.unverifiedPieces()) {
        if (this.signal.aborted || !current(task)) break
        try {
          await this.verifierOf(task)(piece, this.signal)
          migrated++
        } catch (error) {
          if (this.signal.aborted) return
          if (error instanceof BlockMismatchError) this.components.dropRotten(task, error.piece)
          else this.log.warn('cannot re-verify a stored piece', { task: task.id, piece, error })
        }
      }
    }
    this.log.info('stored pieces migrated to block hashes', { pieces: migrated })
  }

  private async check (task: Task, piece: number): Promise<void> {
    const file = await this.components.store.open(task.id, 'read')
    try {
      await reverifyPiece(task, file, piece, this.signal)
    } finally {
      await file.close()
    }
    // The piece is verified either way; unsaved hashes only mean it re-verifies after a restart.
    await this.save(task).catch((error: unknown) => {
      this.log.warn('cannot save block hashes', { task: task.id, error })
    })
  }

  /** Writes block hashes not yet stored, then the metadata that claims them. */
  private async save (task: Task): Promise<void> {
    if (this.components.checkpointIfDownloading(task)) return
    const file = await this.components.store.open(task.id, 'write')
    try {
      for (const { firstBlock, bytes } of task.blocks.takeDirty()) await file.writeBlockHashes(firstBlock, bytes)
      await file.sync()
    } finally {
      await file.close()
    }
    await this.components.store.writeMeta(task.toMeta())
  }
}
