import type { BlockHolds } from './block-memory.js'
import type { BlockHashes } from './block-hashes.js'
import type { TaskMeta } from './task-meta.js'

/**
 * The one owner of task bytes: every data file is created, opened, moved aside and removed
 * here, and trusted bytes are only read through `readVerified`. Two implementations pass the
 * same conformance suite (test/unit/task-store-conformance.test.ts): the filesystem
 * (fs-task-store.ts) and memory (memory-task-store.ts).
 */
export interface TaskStore {
  init: () => Promise<void>
  /** Every task whose metadata and data are intact, with its stored block hashes. */
  list: () => Promise<StoredTask[]>
  /** Creates the task's data (sized, empty) and metadata; returns it open for writing. */
  create: (meta: TaskMeta) => Promise<TaskFile>
  /** Opens an existing task's data. */
  open: (id: string, mode: 'read' | 'write') => Promise<TaskFile>
  /** Replaces the metadata atomically. Call after `TaskFile.sync` for the data it claims. */
  writeMeta: (meta: TaskMeta) => Promise<void>
  /** Moves a task whose bytes failed their check out of reach (kept for an operator to look at). */
  quarantine: (id: string) => Promise<void>
  remove: (id: string) => Promise<void>
}

export interface StoredTask {
  meta: TaskMeta
  /** 32 bytes per block slot (BlockLayout); absent for a task written before blocks existed. */
  blockHashes?: Uint8Array
}

/** One open task's data. */
export interface TaskFile {
  /** Raw bytes at `position` into `buffer`; returns how many were read. Unverified: serve only through readVerified. */
  read: (buffer: Buffer, position: number) => Promise<number>
  /** Writes every byte of `chunks` at `position`, or throws StorageError (a short write is ENOSPC). */
  write: (chunks: Buffer[], position: number) => Promise<void>
  /** Stores serialised block hashes from block slot `firstBlock` on. */
  writeBlockHashes: (firstBlock: number, bytes: Uint8Array) => Promise<void>
  /** Makes the data and block hashes written so far durable. */
  sync: () => Promise<void>
  /**
   * Bytes `start..end` (inclusive), each block read once, hashed off the event loop and checked
   * against `hashes` before it is yielded (the yielded buffers are the ones that were hashed).
   * Throws BlockMismatchError at the first block that does not match or has no known hash.
   */
  readVerified: (hashes: BlockHashes, start: number, end: number, init: VerifiedReadInit) => AsyncGenerator<Buffer, void, undefined>
  close: () => Promise<void>
}

export interface VerifiedReadInit {
  signal: AbortSignal
  /**
   * Called for a block whose hash is not known (a piece stored before blocks existed): makes the
   * piece's block hashes known by re-verifying it, or throws. Without it such a block fails.
   */
  verifyPiece?: (piece: number, signal: AbortSignal) => Promise<void>
  /** Blocks read and hashed ahead of the one being sent. @default 2 */
  readAhead?: number
  /**
   * The consumer is done with each yielded buffer when it asks for the next one, and with the
   * last when the loop ends normally (not by an error or an early stop): a write it made from
   * it has reached the kernel. The buffers' memory is then read into again instead of
   * allocated afresh. Without it a yielded buffer is never reused. @default false
   */
  recycle?: boolean
  /**
   * For a consumer that keeps the buffers past the loop (a peer's reply, read whole and then
   * sent): each yielded buffer is held for it here, and its memory is read into again only
   * once `holds.release()` was called (and no other reader holds it). `holds.abandon()`, or
   * neither, leaves the memory to the garbage collector instead.
   */
  holds?: BlockHolds
}
