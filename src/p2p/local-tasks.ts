import type { FetchRequest, TaskMetadata } from './messages.js'

/** What the protocol handlers need from this node's tasks: a narrow view, easy to fake. */
export interface LocalTasks {
  /** The metadata and bitmap of a task this node holds (in whole or part). */
  metadata: (taskId: string) => TaskMetadata | undefined
  /**
   * Bytes `offset..offset+length` of a held piece, verified block by block on read, with the
   * piece's sha256 and its block sha256s; undefined when the piece is not held (any more) or
   * failed its check. `data` may be the verified blocks' own buffers, in order, rather than one
   * buffer: they are sent as they are, never copied into one.
   */
  readBlock: (taskId: string, piece: number, offset: number, length: number) => Promise<{ data: Buffer | Buffer[], digest?: string, blocks?: string[] } | undefined>
  /** The tasks held in whole or part, to advertise when the node joins the swarm. */
  held?: () => Array<{ id: string, complete: boolean }>
  /** Seeds only: fetch (a share of) a task from the origin; resolves once its length is known. */
  fetchForPeer?: (request: FetchRequest, signal: AbortSignal) => Promise<TaskMetadata>
}
