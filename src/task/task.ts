import { AbortedError, IntegrityError } from '../errors.js'
import { Bitmap } from '../storage/bitmap.js'
import { BlockHashes } from '../storage/block-hashes.js'
import { BlockLayout } from '../storage/blocks.js'
import type { TaskMeta } from '../storage/task-meta.js'
import { PiecePlan } from './piece-plan.js'

/**
 * `quarantined`: the whole file failed its sha256 check; the task is never served again and
 * the next request starts a new one.
 */
export type TaskStatus = 'downloading' | 'complete' | 'paused' | 'quarantined'


/** Where a held piece came from: on disk when the node started, the origin, or a peer. */
export type PieceSource = 'local' | 'origin' | 'peer'

/** One byte per piece: 0 = not held, then the source. Lost on restart on purpose: loaded pieces are local. */
const sourceCodes: Record<PieceSource, number> = { local: 1, origin: 2, peer: 3 }
/** The piece map's letters: missing, arriving, then by source code. */
const mapLetters = ['.', 'L', 'O', 'P']

/**
 * One content on this node: its piece plan, which pieces are held, how far each piece in
 * flight has got, and who is waiting for more. Network and disk I/O live elsewhere; readers
 * and writers meet here.
 */
export class Task {
  readonly id: string
  readonly key: string
  readonly plan: PiecePlan
  readonly bitmap: Bitmap
  /** The trusted sha256 of each block of the held pieces (see storage/blocks.ts). */
  readonly blocks: BlockHashes
  private readonly meta: TaskMeta
  private readonly digests: Array<string | null>
  /** Bytes written from the start of each piece (contiguous); full size once held. */
  private readonly received: Float64Array
  /** Pieces a blocked reader needs next; fetched before the rest. */
  private readonly wanted = new Set<number>()
  /** Which peer supplied each piece this run (not persisted: only needed to blame a bad whole file). */
  private readonly suppliers: Array<string | undefined>
  private waiters = new Set<() => void>()
  /** Where each held piece came from (sourceCodes), for the status page. */
  private readonly sources: Uint8Array
  /** Bytes of this task by where they came from: this run's fetches, and what was on disk at start. */
  readonly bytesBySource = { origin: 0, peers: 0, local: 0 }
  private currentStatus: TaskStatus
  private lastFailure?: Error
  private readers = 0

  /**
   * `blockHashes` are the stored hashes (TaskStore.list); each held piece adopts its own only
   * where they agree with the piece's root in `meta`. A held piece without them (a cache written
   * by 0.1.0, or a torn write) is re-verified from disk before it is served.
   */
  constructor (meta: TaskMeta, blockHashes?: Uint8Array) {
    this.id = meta.id
    this.key = meta.key
    this.plan = new PiecePlan(meta.length, meta.pieceSize)
    const layout = new BlockLayout(this.plan, meta.blockSize)
    this.blocks = new BlockHashes(layout)
    this.meta = { ...meta, blockSize: layout.blockSize }
    this.bitmap = Bitmap.fromBase64(this.plan.pieceCount, meta.bitmap)
    for (let index = 0; index < this.plan.pieceCount; index++) {
      if (this.bitmap.has(index) && blockHashes !== undefined) this.blocks.adopt(index, blockHashes, meta.roots?.[index])
    }
    this.digests = Array.from({ length: this.plan.pieceCount }, (_, index) => this.bitmap.has(index) ? meta.digests[index] ?? null : null)
    this.received = new Float64Array(this.plan.pieceCount)
    this.suppliers = new Array<string | undefined>(this.plan.pieceCount)
    this.sources = new Uint8Array(this.plan.pieceCount)
    for (let index = 0; index < this.plan.pieceCount; index++) {
      if (!this.bitmap.has(index)) continue
      this.received[index] = this.plan.size(index)
      this.sources[index] = sourceCodes.local
      this.bytesBySource.local += this.plan.size(index)
    }
    this.currentStatus = this.bitmap.complete ? 'complete' : 'paused'
  }

  get status (): TaskStatus {
    return this.currentStatus
  }

  get length (): number {
    return this.plan.length
  }

  /** The source URL without its signing query. */
  get url (): string {
    return this.meta.url
  }

  get etag (): string | undefined {
    return this.meta.etag
  }

  /** Headers replayed to clients (content type, disposition, last-modified, etag). */
  get headers (): Readonly<Record<string, string>> {
    return this.meta.headers
  }

  /** The sha256 the whole content must hash to, when its key names it. */
  get expectedSha256 (): string | undefined {
    return this.meta.sha256
  }

  /** Bytes may not be trusted whole until the file hashed to `expectedSha256`. */
  get awaitingWholeFileCheck (): boolean {
    return this.meta.sha256 !== undefined && this.meta.verified !== true
  }

  /** Later clients must show the origin their own credentials first (see TaskMeta.private). */
  get private (): boolean {
    return this.meta.private === true
  }

  markPrivate (): void {
    this.meta.private = true
  }

  /** The whole file hashed to its sha256. */
  markVerified (): void {
    this.meta.verified = true
    this.notify()
  }

  /** Peers that supplied pieces during this run (to blame when the whole file is wrong). */
  peerSuppliers (): Set<string> {
    const peers = new Set<string>()
    for (const supplier of this.suppliers) if (supplier !== undefined) peers.add(supplier)
    return peers
  }

  /**
   * Resolves once the whole file is known good (at once when there is no sha256 to check);
   * rejects when the check failed or the download stopped first.
   */
  async whenVerified (signal: AbortSignal): Promise<void> {
    while (this.awaitingWholeFileCheck) {
      if (this.currentStatus === 'quarantined') throw this.lastFailure ?? new IntegrityError(`task ${this.id} failed its sha256 check`)
      await this.changed(signal)
    }
  }

  /** Why the last download stopped, if it did. */
  get failure (): Error | undefined {
    return this.lastFailure
  }

  /** Held pieces whose block hashes are not known yet (stored by 0.1.0): each is re-verified before use. */
  unverifiedPieces (): number[] {
    const result: number[] = []
    for (let index = 0; index < this.plan.pieceCount; index++) if (this.bitmap.has(index) && this.blocks.rootOf(index) === undefined) result.push(index)
    return result
  }

  /** The sha256 of a held piece. */
  digestOf (index: number): string | undefined {
    return this.digests[index] ?? undefined
  }

  /** Bytes readable from disk starting at `offset`, without waiting. */
  readableAt (offset: number): number {
    const index = this.plan.indexOf(offset)
    if (index >= this.plan.pieceCount) return 0
    const intoPiece = offset - this.plan.start(index)
    return Math.max(0, (this.received[index] ?? 0) - intoPiece)
  }

  /** Where a held piece came from; undefined while it is not held. */
  sourceOf (index: number): PieceSource | undefined {
    const code = this.sources[index] ?? 0
    return code === sourceCodes.local ? 'local' : code === sourceCodes.origin ? 'origin' : code === sourceCodes.peer ? 'peer' : undefined
  }

  /**
   * One letter per piece: L local, O origin, P peer, ~ arriving (some bytes written), . missing.
   * Small enough to send every second (a piece is at least 4 MiB unless configured smaller).
   */
  pieceMap (): string {
    let map = ''
    for (let index = 0; index < this.plan.pieceCount; index++) {
      const code = this.sources[index] ?? 0
      map += code === 0 && (this.received[index] ?? 0) > 0 ? '~' : mapLetters[code]
    }
    return map
  }

  /** Bytes of verified pieces held. */
  get heldBytes (): number {
    const last = this.plan.pieceCount - 1
    const shortfall = last >= 0 && this.bitmap.has(last) ? this.plan.pieceSize - this.plan.size(last) : 0
    return this.bitmap.count * this.plan.pieceSize - shortfall
  }

  /** Bytes written so far, partial pieces included: what a progress rate is measured on. */
  get receivedBytes (): number {
    let total = 0
    for (const bytes of this.received) total += bytes
    return total
  }

  /** Bytes of piece `index` already written, counted from its start. */
  receivedOf (index: number): number {
    return this.received[index] ?? 0
  }

  /** Resolves at the next progress or status change; rejects once the download has stopped. */
  async changed (signal: AbortSignal): Promise<void> {
    if (this.currentStatus === 'quarantined') throw this.lastFailure ?? new IntegrityError(`task ${this.id} is quarantined`)
    if (this.currentStatus === 'paused') throw this.lastFailure ?? new AbortedError('task is not downloading')
    if (signal.aborted) throw new AbortedError()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(wake)
        reject(new AbortedError())
      }
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      this.waiters.add(wake)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Told when a reader blocks on a piece, so the download can fetch it next. */
  onWant?: (index: number) => void

  /** A reader is blocked on the piece holding `offset`. */
  want (offset: number): void {
    const index = this.plan.indexOf(offset)
    if (index < this.plan.pieceCount && !this.bitmap.has(index) && !this.wanted.has(index)) {
      this.wanted.add(index)
      this.onWant?.(index)
    }
  }

  /** Pieces readers are blocked on. */
  get wantedPieces (): ReadonlySet<number> {
    return this.wanted
  }

  /**
   * An origin fetch has written `bytesFromPieceStart` bytes of a piece. Ignored once the piece
   * is held: when a peer lands it first (endgame, stall fallback), the slower fetch's progress
   * must not shrink what readers may read, or a reader past it waits for a wake-up that a
   * complete task never sends.
   */
  markReceived (index: number, bytesFromPieceStart: number): void {
    if (this.bitmap.has(index)) return
    this.received[index] = bytesFromPieceStart
    this.notify()
  }

  /** Forgets the partial bytes of a piece whose fetch must start over. */
  resetPiece (index: number): void {
    if (!this.bitmap.has(index)) this.received[index] = 0
  }

  /** Marks a piece held; `supplier` is the peer it came from, kept to blame a bad whole file. */
  markPieceComplete (index: number, digest: string | undefined, source: Exclude<PieceSource, 'local'>, supplier?: string, blockHashes?: readonly Uint8Array[]): void {
    this.received[index] = this.plan.size(index)
    this.suppliers[index] = supplier
    // No digest: a piece checked by its block hashes alone (swarm-download.ts says when).
    this.digests[index] = digest ?? null
    if (blockHashes !== undefined) this.blocks.setPiece(index, blockHashes)
    if (!this.bitmap.has(index)) {
      this.sources[index] = sourceCodes[source]
      this.bytesBySource[source === 'origin' ? 'origin' : 'peers'] += this.plan.size(index)
    }
    this.bitmap.set(index)
    this.wanted.delete(index)
    this.notify()
  }

  /**
   * A held piece turned out bad on disk: it is no longer held, the whole-file check must run
   * again, and readers wait for the piece to be fetched anew.
   */
  invalidatePiece (index: number): void {
    this.bitmap.clear(index)
    this.digests[index] = null
    this.blocks.forget(index)
    this.received[index] = 0
    this.sources[index] = 0
    this.suppliers[index] = undefined
    this.meta.verified = false
    if (this.currentStatus === 'complete') this.currentStatus = 'paused'
    this.lastFailure = new IntegrityError(`piece ${index} of task ${this.id} is being refetched`)
    this.notify()
  }

  /** The whole file is wrong: never serve it; readers fail with `failure`. */
  quarantine (failure: IntegrityError): void {
    this.lastFailure = failure
    this.currentStatus = 'quarantined'
    this.notify()
  }

  startDownloading (): void {
    this.lastFailure = undefined
    this.currentStatus = this.bitmap.complete ? 'complete' : 'downloading'
    this.notify()
  }

  finish (): void {
    // A piece dropped (bit rot) since the transfer ended leaves the task to resume.
    this.currentStatus = this.bitmap.complete ? 'complete' : 'paused'
    this.notify()
  }

  /** The download stopped before the end; what was written stays for a later resume. */
  pause (failure: Error): void {
    if (this.currentStatus === 'quarantined') return
    this.lastFailure = failure
    this.currentStatus = this.bitmap.complete ? 'complete' : 'paused'
    // Partial pieces are refetched whole on resume, so readers must not use their bytes now.
    for (let index = 0; index < this.plan.pieceCount; index++) this.resetPiece(index)
    this.notify()
  }

  /** Records a use (a request, a peer's read): the cache evicts least recently used tasks first. */
  touch (): void {
    this.meta.lastAccessAt = Date.now()
    this.accessUnsaved = true
  }

  get lastAccessAt (): number {
    return this.meta.lastAccessAt
  }

  /** The last access time changed since the metadata file was last written. */
  accessUnsaved = false

  /** Marks the task as being served until the returned call: the cache never evicts it meanwhile. */
  retain (): () => void {
    this.readers++
    let released = false
    return () => {
      if (released) return
      released = true
      this.readers--
    }
  }

  /** Clients being served from this task right now. */
  get inUse (): boolean {
    return this.readers > 0
  }

  /** A snapshot for the metadata file: only pieces in the bitmap count. */
  toMeta (): TaskMeta {
    this.accessUnsaved = false
    const roots = Array.from({ length: this.plan.pieceCount }, (_, index) => this.bitmap.has(index) ? this.blocks.rootOf(index) ?? null : null)
    return { ...this.meta, bitmap: this.bitmap.toBase64(), digests: [...this.digests], roots }
  }

  private notify (): void {
    const waiting = this.waiters
    this.waiters = new Set()
    for (const wake of waiting) wake()
  }
}
