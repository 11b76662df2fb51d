import { constants } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { StorageError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import { BlockLayout, hashBytes } from './blocks.js'
import { isTaskMeta, type TaskMeta } from './task-meta.js'
import type { StoredTask, TaskFile, TaskStore } from './task-files.js'
import { readVerified } from './verified-reader.js'
import { writeFully } from './write-fully.js'
import { PiecePlan } from '../task/piece-plan.js'

export interface FsTaskStoreComponents {
  logger: Logger
}

export interface FsTaskStoreInit {
  /** The node's data dir; tasks live in `<dataDir>/tasks/<id>/`. */
  dataDir: string
}

/**
 * Tasks on disk: one folder per task holding `data` (a sparse file, pieces written at their
 * offsets), `blocks` (32 bytes of sha256 per block slot, written at their offsets) and
 * `meta.json`. Metadata is replaced atomically (write, fsync, rename, fsync the folder) after
 * the data and block hashes it describes are synced, so a crash at any moment leaves metadata
 * that claims only pieces that really are on disk; block hashes are trusted only where they
 * agree with the piece roots in the metadata.
 */
export class FsTaskStore implements TaskStore {
  private readonly root: string
  private readonly quarantineRoot: string
  private readonly log: Logger
  /** Per task, the last operation on its folder: writes and removal never interleave. */
  private readonly queues = new Map<string, Promise<unknown>>()

  constructor (components: FsTaskStoreComponents, init: FsTaskStoreInit) {
    this.root = join(init.dataDir, 'tasks')
    this.quarantineRoot = join(init.dataDir, 'quarantine')
    this.log = components.logger.forComponent('storage')
  }

  async init (): Promise<void> {
    await mkdir(this.root, { recursive: true })
  }

  private dataPath (id: string): string {
    return join(this.root, id, 'data')
  }

  private blocksPath (id: string): string {
    return join(this.root, id, 'blocks')
  }

  /** Every task whose metadata and data file are intact; broken folders are removed. */
  async list (): Promise<StoredTask[]> {
    const result: StoredTask[] = []
    for (const id of await readdir(this.root)) {
      const meta = await this.readMeta(id)
      if (meta === undefined) {
        this.log.warn('removing unreadable task folder', { id })
        await this.remove(id)
        continue
      }
      const blockHashes = await this.readBlockHashes(meta)
      result.push(blockHashes === undefined ? { meta } : { meta, blockHashes })
    }
    return result
  }

  /** Creates the task folder, an empty data file of the right length and the block-hash file; returns it open. */
  async create (meta: TaskMeta): Promise<TaskFile> {
    const folder = join(this.root, meta.id)
    return await this.serialized(meta.id, async () => {
      let data: FileHandle | undefined
      let blocks: FileHandle | undefined
      try {
        await rm(folder, { recursive: true, force: true })
        await mkdir(folder, { recursive: true })
        data = await open(this.dataPath(meta.id), 'w+')
        await data.truncate(meta.length)
        blocks = await open(this.blocksPath(meta.id), 'w+')
        await this.writeMetaNow(meta)
        return new FsTaskFile(meta.id, data, blocks)
      } catch (error) {
        // A full disk must not leave a half-made folder behind.
        await data?.close().catch(() => {})
        await blocks?.close().catch(() => {})
        await rm(folder, { recursive: true, force: true }).catch(() => {})
        throw toStorageError(`cannot create task ${meta.id}`, error)
      }
    })
  }

  async open (id: string, mode: 'read' | 'write'): Promise<TaskFile> {
    let data: FileHandle | undefined
    try {
      data = await open(this.dataPath(id), mode === 'read' ? 'r' : 'r+')
      // A task written before blocks existed has no block-hash file yet.
      const blocks = mode === 'read' ? undefined : await open(this.blocksPath(id), constants.O_RDWR | constants.O_CREAT)
      return new FsTaskFile(id, data, blocks)
    } catch (error) {
      await data?.close().catch(() => {})
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

  /** The block-hash file, padded to the task's block slots; undefined when there is none. */
  private async readBlockHashes (meta: TaskMeta): Promise<Uint8Array | undefined> {
    if (meta.blockSize === undefined) return undefined
    const stored = await readFile(this.blocksPath(meta.id)).catch(() => undefined)
    if (stored === undefined) return undefined
    const slots = new BlockLayout(new PiecePlan(meta.length, meta.pieceSize), meta.blockSize).blockCount
    const result = new Uint8Array(slots * hashBytes)
    result.set(stored.subarray(0, result.length))
    return result
  }
}

class FsTaskFile implements TaskFile {
  private readonly id: string
  private readonly data: FileHandle
  private readonly blocks?: FileHandle

  constructor (id: string, data: FileHandle, blocks: FileHandle | undefined) {
    this.id = id
    this.data = data
    this.blocks = blocks
  }

  async read (buffer: Buffer, position: number): Promise<number> {
    try {
      return (await this.data.read(buffer, 0, buffer.length, position)).bytesRead
    } catch (error) {
      throw toStorageError(`cannot read task ${this.id}`, error)
    }
  }

  async write (chunks: Buffer[], position: number): Promise<void> {
    await writeFully(this.data, chunks, position)
  }

  async writeBlockHashes (firstBlock: number, bytes: Uint8Array): Promise<void> {
    if (this.blocks === undefined) throw new StorageError(`task ${this.id} is open for reading`)
    try {
      await this.blocks.write(bytes, 0, bytes.length, firstBlock * hashBytes)
    } catch (error) {
      throw toStorageError(`cannot write block hashes of task ${this.id}`, error)
    }
  }

  async sync (): Promise<void> {
    await this.data.datasync()
    await this.blocks?.datasync()
  }

  readVerified: TaskFile['readVerified'] = (hashes, start, end, init) => readVerified(this, hashes, start, end, init)

  async close (): Promise<void> {
    await this.data.close()
    await this.blocks?.close()
  }
}

function toStorageError (message: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return new StorageError(code === undefined ? message : `${message}: ${code}`, { cause: error })
}
