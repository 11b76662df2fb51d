import { StorageError } from '../errors.js'
import { PiecePlan } from '../task/piece-plan.js'
import { BlockLayout, hashBytes } from './blocks.js'
import type { TaskMeta } from './task-meta.js'
import type { StoredTask, TaskFile, TaskStore } from './task-files.js'
import { readVerified } from './verified-reader.js'

interface MemoryTask {
  meta: TaskMeta
  data: Buffer
  /** Block hashes written (what sync made durable is not modelled: memory has no crashes). */
  blocks: Uint8Array
}

/**
 * Tasks in memory: the same contract as the filesystem store, for tests and for reasoning
 * about the contract without a disk. `corrupt` flips a byte, as bit rot would.
 */
export class MemoryTaskStore implements TaskStore {
  private readonly tasks = new Map<string, MemoryTask>()
  /** Tasks moved aside, by id (the latest copy of each). */
  readonly quarantined = new Map<string, TaskMeta>()

  async init (): Promise<void> {}

  async list (): Promise<StoredTask[]> {
    return [...this.tasks.values()].map(task => task.meta.blockSize === undefined
      ? { meta: structuredClone(task.meta) }
      : { meta: structuredClone(task.meta), blockHashes: Uint8Array.from(task.blocks) })
  }

  async create (meta: TaskMeta): Promise<TaskFile> {
    const blockSize = meta.blockSize
    const slots = blockSize === undefined ? 0 : new BlockLayout(new PiecePlan(meta.length, meta.pieceSize), blockSize).blockCount
    const task: MemoryTask = { meta: structuredClone(meta), data: Buffer.alloc(meta.length), blocks: new Uint8Array(slots * hashBytes) }
    this.tasks.set(meta.id, task)
    return new MemoryTaskFile(task, 'write')
  }

  async open (id: string, mode: 'read' | 'write'): Promise<TaskFile> {
    const task = this.tasks.get(id)
    if (task === undefined) throw new StorageError(`cannot open task ${id}: ENOENT`)
    return new MemoryTaskFile(task, mode)
  }

  async writeMeta (meta: TaskMeta): Promise<void> {
    const task = this.tasks.get(meta.id)
    if (task === undefined) throw new StorageError(`cannot write metadata of task ${meta.id}: ENOENT`)
    task.meta = structuredClone(meta)
  }

  async quarantine (id: string): Promise<void> {
    const task = this.tasks.get(id)
    if (task === undefined) return
    this.tasks.delete(id)
    this.quarantined.set(id, task.meta)
  }

  async remove (id: string): Promise<void> {
    this.tasks.delete(id)
  }

  /** Flips the byte at `offset` of a task's data (bit rot). */
  corrupt (id: string, offset: number): void {
    const task = this.tasks.get(id)
    if (task === undefined) throw new StorageError(`no task ${id}`)
    task.data[offset] = (task.data[offset] ?? 0) ^ 0xff
  }
}

class MemoryTaskFile implements TaskFile {
  private readonly task: MemoryTask
  private readonly mode: 'read' | 'write'
  private closed = false

  constructor (task: MemoryTask, mode: 'read' | 'write') {
    this.task = task
    this.mode = mode
  }

  async read (buffer: Buffer, position: number): Promise<number> {
    this.usable()
    return this.task.data.copy(buffer, 0, position, Math.min(this.task.data.length, position + buffer.length))
  }

  async write (chunks: Buffer[], position: number): Promise<void> {
    this.usable('write')
    let at = position
    for (const chunk of chunks) {
      if (at + chunk.length > this.task.data.length) throw new StorageError(`cannot write piece data: past the end of task ${this.task.meta.id}`)
      chunk.copy(this.task.data, at)
      at += chunk.length
    }
  }

  async writeBlockHashes (firstBlock: number, bytes: Uint8Array): Promise<void> {
    this.usable('write')
    const at = firstBlock * hashBytes
    if (at + bytes.length > this.task.blocks.length) {
      const grown = new Uint8Array(at + bytes.length)
      grown.set(this.task.blocks)
      this.task.blocks = grown
    }
    this.task.blocks.set(bytes, at)
  }

  async sync (): Promise<void> {
    this.usable()
  }

  readVerified: TaskFile['readVerified'] = (hashes, start, end, init) => readVerified(this, hashes, start, end, init)

  async close (): Promise<void> {
    this.closed = true
  }

  private usable (mode?: 'write'): void {
    if (this.closed) throw new StorageError(`task ${this.task.meta.id} is closed`)
    if (mode === 'write' && this.mode !== 'write') throw new StorageError(`task ${this.task.meta.id} is open for reading`)
  }
}
