import type { FetchRequest, TaskMetadata } from './messages.js'

/**
 * Gives back pooled memory under a block's bytes, once. `true`: every byte was handed on (the
 * socket's write callback fired, or they were never sent), so the memory may be read into again
 * once no other holder is left. `false`: some may still be in use (a failed write, bytes given to
 * a libp2p stream), so the memory is left to the garbage collector. Never calling it costs the
 * same as `false`: memory is only reused once every holder said `true`.
 */
export type BlockRelease = (reusable: boolean) => void

/** What the protocol handlers need from this node's tasks: a narrow view, easy to fake. */
export interface LocalTasks {
  /** The metadata and bitmap of a task this node holds (in whole or part). */
  metadata: (taskId: string) => TaskMetadata | undefined
  /**
   * Bytes `offset..offset+length` of a held piece, verified block by block on read, with the
   * piece's sha256 and its block sha256s; undefined when the piece is not held (any more) or
   * failed its check. `data` may be the verified blocks' own buffers, in order, rather than one
   * buffer: they are sent as they are, never copied into one. `release`, when given, gives
   * their memory back for reuse (BlockRelease).
   */
  readBlock: (taskId: string, piece: number, offset: number, length: number) => Promise<{ data: Buffer | Buffer[], digest?: string, blocks?: string[], release?: BlockRelease } | undefined>
  /** The tasks held in whole or part, to advertise when the node joins the swarm. */
  held?: () => Array<{ id: string, complete: boolean }>
  /** Seeds only: fetch (a share of) a task from the origin; resolves once its length is known. */
  fetchForPeer?: (request: FetchRequest, signal: AbortSignal) => Promise<TaskMetadata>
}
