import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { StorageError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import { isTaskMeta, type TaskMeta } from './task-meta.js'

export interface TaskStoreComponents {
  logger: Logger
}

export interface TaskStoreInit {
  /** The node's data dir; tasks live in `<dataDir>/tasks/<id>/`. */
  dataDir: string
}

/**
 * Tasks on disk: one folder per task holding `data` (a sparse file, pieces written at their
 * offsets) and `meta.json`. Metadata is replaced atomically (write, fsync, rename, fsync the
 * folder) after the data it describes is synced, so a crash at any moment leaves metadata
 * that claims only pieces that really are on disk.
 */
export class TaskStore {
  private readonly root: string
  private readonly quarantineRoot: string
  private readonly log: Logger
  /** Per task, the last operation on its folder: writes and removal never interleave. */
  private readonly queues = new Map<string, Promise<unknown>>()

  constructor (components: TaskStoreComponents, init: TaskStoreInit) {
    this.root = join(init.dataDir, 'tasks')
    this.quarantineRoot = join(init.dataDir, 'quarantine')
    this.log = components.logger.forComponent('storage')
  }

  async init (): Promise<void> {
    await mkdir(this.root, { recursive: true })
  }

  dataPath (id: string): string {
    return join(this.root, id, 'data')
  }

  /** Every task whose metadata and data file are intact; broken folders are removed. */
  async list (): Promise<TaskMeta[]> {
    const result: TaskMeta[] = []
    for (const id of await readdir(this.root)) {
      const meta = await this.readMeta(id)
      if (meta === undefined) {
        this.log.warn('removing unreadable task folder', { id })
        await this.remove(id)
        continue
      }
      result.push(meta)
    }
    return result
  }

  /** Creates the task folder and an empty data file of the right length; returns it open. */
  async create (meta: TaskMeta): Promise<FileHandle> {
    const folder = join(this.root, meta.id)
    return await this.serialized(meta.id, async () => {
      let handle: FileHandle | undefined
      try {
        await rm(folder, { recursive: true, force: true })
        await mkdir(folder, { recursive: true })
        handle = await open(this.dataPath(meta.id), 'w+')
        await handle.truncate(meta.length)
        await this.writeMetaNow(meta)
        return handle
      } catch (error) {
        // A full disk must not leave a half-made folder behind.
        await handle?.close().catch(() => {})
        await rm(folder, { recursive: true, force: true }).catch(() => {})
        throw toStorageError(`cannot create task ${meta.id}`, error)
      }
    })
  }

  /** Opens an existing task's data file for writing more pieces. */
  async openForWrite (id: string): Promise<FileHandle> {
    try {
      return await open(this.dataPath(id), 'r+')
    } catch (error) {
      throw toStorageError(`cannot open task ${id}`, error)
    }
  }

  async writeMeta (meta: TaskMeta): Promise<void> {
    await this.serialized(meta.id, async () => { await this.writeMetaNow(meta) })
  }

  private async writeMetaNow (meta: TaskMeta): Promise<void> {
    const folder = join(this.root, meta.id)
    const temporary = join(folder, 'meta.json.tmp')
    const final = join(folder, 'meta.json')
    try {
      const handle = await open(temporary, 'w')
      try {
        await handle.writeFile(JSON.stringify(meta))
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(temporary, final)
      const directory = await open(folder, 'r')
      try { await directory.sync() } finally { await directory.close() }
    } catch (error) {
      throw toStorageError(`cannot write metadata of task ${meta.id}`, error)
    }
  }

  async remove (id: string): Promise<void> {
    await this.serialized(id, async () => { await rm(join(this.root, id), { recursive: true, force: true }) })
  }

  /** Runs `operation` after every earlier one on the same task folder. */
  private async serialized<T> (id: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id) ?? Promise.resolve()
    const next = previous.catch(() => {}).then(operation)
    this.queues.set(id, next)
    try {
      return await next
    } finally {
      if (this.queues.get(id) === next) this.queues.delete(id)
    }
  }

  /**
   * Moves a task whose bytes failed their sha256 check out of `tasks/` to `quarantine/<id>`,
   * where no request can reach it but an operator can still look at what was received. One
   * copy per task is kept: a newer quarantine of the same task replaces the older.
   */
  async quarantine (id: string): Promise<void> {
    const target = join(this.quarantineRoot, id)
    try {
      await mkdir(this.quarantineRoot, { recursive: true })
      await rm(target, { recursive: true, force: true })
      await rename(join(this.root, id), target)
    } catch (error) {
      this.log.warn('cannot move a quarantined task aside: removing it', { id, error })
      await this.remove(id)
    }
  }

  private async readMeta (id: string): Promise<TaskMeta | undefined> {
    try {
      const parsed: unknown = JSON.parse(await readFile(join(this.root, id, 'meta.json'), 'utf8'))
      if (!isTaskMeta(parsed) || parsed.id !== id) return undefined
      const data = await stat(this.dataPath(id))
      if (data.size !== parsed.length) return undefined
      return parsed
    } catch {
      return undefined
    }
  }
}

function toStorageError (message: string, error: unknown): StorageError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return new StorageError(code === undefined ? message : `${message}: ${code}`, { cause: error })
}
