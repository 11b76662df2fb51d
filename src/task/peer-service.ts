import { BlockMismatchError } from '../errors.js'
import type { BlockRelease, LocalTasks } from '../p2p/local-tasks.js'
import type { FetchRequest, TaskMetadata } from '../p2p/messages.js'
import { BlockHolds } from '../storage/block-memory.js'
import type { TaskStore } from '../storage/task-files.js'
import { parseTaskKey } from './task-key.js'
import type { AcquiredTask, TaskRequest } from './task-registry.js'
import type { Task } from './task.js'

export interface PeerServiceComponents {
  tasks: { get: (id: string) => Task | undefined }
  store: Pick<TaskStore, 'open'>
  /** VerifiedReadInit.verifyPiece for a task (pieces stored by 0.1.0 are re-verified first). */
  verifierOf: (task: Task) => (piece: number, signal: AbortSignal) => Promise<void>
  /** Drops a held piece that read back wrong, so that it is fetched again. */
  dropRotten: (task: Task, piece: number) => void
  /** Seeds: the task for a peer's fetch request, single-flighted with every other request. */
  acquire: (request: TaskRequest, signal: AbortSignal) => Promise<AcquiredTask>
}

/**
 * What this node answers other peers from its own tasks (LocalTasks): metadata and bitmaps,
 * blocks verified on read, and, on seeds, fetches from the origin on a peer's behalf. A
 * quarantined copy is never offered. `signal` ends reads (the node stopping).
 */
export class PeerService implements Required<Pick<LocalTasks, 'metadata' | 'readBlock' | 'fetchForPeer'>> {
  private readonly components: PeerServiceComponents
  private readonly signal: AbortSignal

  constructor (components: PeerServiceComponents, signal: AbortSignal) {
    this.components = components
    this.signal = signal
  }

  metadata (taskId: string): TaskMetadata | undefined {
    const task = this.components.tasks.get(taskId)
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

  async readBlock (taskId: string, piece: number, offset: number, length: number): Promise<{ data: Buffer[], digest?: string, blocks?: string[], release: BlockRelease } | undefined> {
    const task = this.components.tasks.get(taskId)
    if (task === undefined || task.status === 'quarantined' || piece >= task.plan.pieceCount || !task.bitmap.has(piece)) return undefined
    if (offset + length > task.plan.size(piece)) return undefined
    task.touch()
    const start = task.plan.start(piece) + offset
    const file = await this.components.store.open(task.id, 'read')
    const parts: Buffer[] = []
    // The sender gives the buffers back once written (BlockRelease): their memory is then read
    // into again instead of allocated for the next block.
    const holds = new BlockHolds()
    try {
      for await (const part of file.readVerified(task.blocks, start, start + length - 1, { signal: this.signal, verifyPiece: this.components.verifierOf(task), holds })) parts.push(part)
    } catch (error) {
      // Nothing was sent from them.
      holds.release()
      // Never pass a rotten block on: the peer asks elsewhere, and the piece is fetched again.
      if (!(error instanceof BlockMismatchError)) throw error
      this.components.dropRotten(task, error.piece)
      return undefined
    } finally {
      await file.close()
    }
    // The verified buffers themselves (no copy into one): the sender writes them one by one.
    const data = parts
    const digest = task.digestOf(piece)
    const blocks = task.blocks.pieceHashes(piece)?.map(hash => Buffer.from(hash).toString('hex'))
    const release: BlockRelease = (reusable) => { if (reusable) holds.release(); else holds.abandon() }
    return { data, release, ...(digest === undefined ? {} : { digest }), ...(blocks === undefined ? {} : { blocks }) }
  }

  /** Seeds: a peer elected us to fetch (our share of) a task from the origin. */
  async fetchForPeer (request: FetchRequest, signal: AbortSignal): Promise<TaskMetadata> {
    const key = parseTaskKey(request.key)
    if (key.id !== request.task) throw new Error('task id does not match its key')
    const { task } = await this.components.acquire({ key, source: { url: request.url, headers: request.headers }, elected: request.share?.elected, private: request.private }, signal)
    const meta = this.metadata(task.id)
    if (meta === undefined) throw new Error('task vanished')
    return meta
  }
}
