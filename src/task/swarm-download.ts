import { AbortedError, PeerBusyError, StorageError, UpstreamUnreachableError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { OriginSource } from '../origin/origin-client.js'
import type { TaskMetadata } from '../p2p/messages.js'
import { maxBlockBytes } from '../p2p/piece-protocol.js'
import { protocols } from '../p2p/protocols.js'
import type { Holder, Swarm } from '../p2p/swarm.js'
import { PeerBackoff } from '../scheduling/peer-backoff.js'
import { PiecePicker } from '../scheduling/piece-picker.js'
import { HolderRefresh } from '../scheduling/holder-refresh.js'
import { ShareHandover } from '../scheduling/share-handover.js'
import type { PeerScores } from '../scheduling/peer-scores.js'
import { Bitmap } from '../storage/bitmap.js'
import { fetchPiece, type OriginDownloadComponents } from './origin-download.js'
import type { Task } from './task.js'
import type { Pace } from '../limits/token-bucket.js'
import type { TaskFile } from '../storage/task-files.js'
import { PieceBlockHasher } from '../storage/block-hasher.js'
import type { WholeFileHash } from '../storage/whole-file-hash.js'
import { merkleRoot } from '../storage/blocks.js'
import type { Metrics } from '../metrics/metrics.js'
import { OriginFallbackDriver } from './origin-fallback-driver.js'
import { RequestCancels } from './request-cancels.js'
import { nextSharePiece, type OriginPlan } from './share-fetch.js'

export interface SwarmDownloadComponents {
  origin: OriginDownloadComponents['origin']
  swarm: Pick<Swarm, 'onHave' | 'block' | 'connectedPeers' | 'announceHave' | 'findHolders' | 'meta' | 'speaks' | 'peerId' | 'liveSeeds'> & Partial<Pick<Swarm, 'wanters' | 'speaksWire' | 'uplinkBytesPerMs' | 'fetchedFromOrigin'>>
  scores: PeerScores
  logger: Logger
  metrics?: Pick<Metrics, 'pieceFetched' | 'peerBytesWasted'>
}

export type { OriginPlan } from './share-fetch.js'

export interface SwarmDownloadInit {
  task: Task
  file: TaskFile
  /** The latest origin source; undefined when the origin may not be used. */
  source: () => OriginSource | undefined
  originConcurrency: number
  /** Paces bytes from the origin. @default unlimited */
  originPace?: Pace
  originPlan: OriginPlan
  /**
   * Fetch from the origin what the swarm cannot deliver in time, judged from the rates seen
   * (OriginFallbackDriver); false: only the pieces of `originPlan` and of a share handed over.
   */
  backToSource: boolean
  /** Silence of an elected owner after which others may fetch its pieces; × 6 idle: give up. */
  stallMs: number
  /** Rate of one origin connection assumed until one is measured, bytes per ms. @default 1000 */
  originConnectionBytesPerMs?: number
  holders: Holder[]
  /**
   * The other seeds elected to fetch the other shares: holders from the start (their `have`s
   * count, and their bitmaps are read at once and whenever they go quiet), rather than found by
   * the search ten seconds in, by which time the stall rule would have sent their pieces to the
   * origin as well. @default []
   */
  partners?: string[]
  /**
   * The seeds elected for the task: when one is gone, its share is handed over to a live seed
   * (ShareHandover), which fetches what no live peer holds from the origin at once; the others
   * wait for it. @default none: the stall rule alone
   */
  elected?: string[]
  onPiece: (index: number) => void
  /**
   * The task's running whole-file sha256: each block landing where it stands is offered to it
   * from the memory it was verified from (origin bytes as they are, a peer's block only if it
   * hashes to its proven hash). @default none
   */
  whole?: WholeFileHash
  signal: AbortSignal
}

/** The origin as a requester in the picker, so peers do not duplicate its pieces. */
const originId = 'origin'
const blockTimeoutMs = 30_000
const refreshMs = 1000
const haveFlushMs = 200
/** An origin piece nobody took for this long is not waiting on this node's uplink (share-pace.ts). */
const unsharedStaleMs = 6000

/**
 * Fills a task from peers and the origin. Piece choice is the PiecePicker's (rarest first,
 * endgame, bans); this class only moves bytes and reports outcomes. Bytes from peers become
 * readable only once their piece hashes right, so a bad peer never reaches a client.
 */
export class SwarmDownload {
  private readonly components: SwarmDownloadComponents
  private readonly init: SwarmDownloadInit
  private readonly task: Task
  private readonly picker: PiecePicker
  private readonly log: Logger
  private readonly expected: Array<string | null>
  /** Merkle roots over block hashes from holders on the block-aware protocol (TaskMetadata.roots). */
  private readonly expectedRoots: Array<string | null>
  /** Peers whose last request failed wait a little (a closing connection fails every request at once). */
  private readonly backoff = new PeerBackoff()
  private readonly busy = new Set<number>()
  private readonly peers = new Set<string>()
  /** Holders that have the whole task: nothing new to learn from them. */
  private readonly completeHolders = new Set<string>()
  /** When holders are re-read and new ones searched for (gossip `have`s come first). */
  private readonly refresh = new HolderRefresh()
  /** Who fetches a gone elected seed's share; undefined without an election. */
  private readonly handover?: ShareHandover
  /** When the swarm is late, which pieces the origin takes (docs/scale.md, drop-in 3). */
  private readonly fallback: OriginFallbackDriver
  /** Stops the requests that lost an endgame race once their piece landed elsewhere. */
  private readonly cancels = new RequestCancels()
  /** Pieces the origin is fetching now (their count is the origin requests in flight). */
  private readonly fromOriginNow = new Set<number>()
  /** Pieces fetched here from the origin lately that no peer was known to hold yet, and when. */
  private readonly unshared = new Map<number, number>()
  private peerRequests = 0
  private originError?: unknown
  private lastAnyProgress = Date.now()
  private pendingHave: number[] = []
  private haveTimer?: NodeJS.Timeout
  /** A pump when the earliest busy peer may be asked again (nothing else may happen before). */
  private wakeTimer?: NodeJS.Timeout
  private wakeAt = Infinity
  private finished = false
  /** Cancels fetches still running when the download ends either way. */
  private readonly stopper = new AbortController()
  private readonly signal: AbortSignal
  private resolve!: () => void
  private reject!: (error: unknown) => void

  constructor (components: SwarmDownloadComponents, init: SwarmDownloadInit) {
    this.components = components
    this.init = init
    this.task = init.task
    this.log = components.logger.forComponent('download')
    // Endgame duplicates only late requests, judged from each requester's measured rate.
    const rates = { bytesPerMs: (peer: string) => peer === originId ? this.fallback.measuredConnectionBytesPerMs : components.scores.bytesPerMs(peer) }
    const plan = init.task.plan
    this.picker = new PiecePicker({ scores: components.scores, rates }, {
      pieceCount: plan.pieceCount,
      held: init.task.bitmap,
      pieceBytes: index => plan.size(index),
      requestTimeoutMs: blockTimeoutMs * 2,
      // With no other node downloading the task there is nobody to trade with, so equally rare
      // pieces come in file order: they then land where the whole-file hash stands.
      inOrder: () => init.whole !== undefined && this.othersWanting() === 0
    })
    this.expected = new Array<string | null>(init.task.plan.pieceCount).fill(null)
    this.expectedRoots = new Array<string | null>(init.task.plan.pieceCount).fill(null)
    this.signal = AbortSignal.any([init.signal, this.stopper.signal])
    for (const holder of init.holders) this.learn(holder.peer, holder.meta)
    for (const peer of init.partners ?? []) this.peers.add(peer)
    if (init.elected !== undefined && init.elected.length > 0) {
      this.handover = new ShareHandover({ taskKey: init.task.key, elected: init.elected, self: components.swarm.peerId, pieceCount: init.task.plan.pieceCount, stallMs: init.stallMs })
      this.handover.observe(components.swarm.connectedPeers())
    }
    const { swarm } = components
    this.fallback = new OriginFallbackDriver({
      originConcurrency: init.originConcurrency,
      unitBytes: init.task.plan.pieceSize,
      // The task topic's subscribers; without it, the holders known that lack something.
      wanters: () => 1 + this.othersWanting(),
      defaultConnectionBytesPerMs: init.originConnectionBytesPerMs
    })
  }

  async run (): Promise<void> {
    const done = new Promise<void>((resolve, reject) => { this.resolve = resolve; this.reject = reject })
    const { swarm } = this.components
    const stopHave = swarm.onHave(this.task.id, (peer, message) => {
      this.refresh.heard(peer)
      this.log.debug('have from peer', { peer, pieces: message.pieces })
      message.pieces.forEach((index, position) => {
        if (index >= this.task.plan.pieceCount) return
        // Nobody else held it (not even this node): the owner fetched it from the origin.
        this.handover?.progressed(peer, index, !this.task.bitmap.has(index) && this.picker.holdersOf(index).length === 0)
        this.peers.add(peer)
        this.picker.peerHas(peer, index)
        const digest = message.digests?.[position]
        if (digest !== undefined && this.expected[index] === null) this.expected[index] = digest
      })
      this.pump()
    })
    this.task.onWant = (index) => { this.picker.wanted(index); this.pump() }
    for (const index of this.task.wantedPieces) this.picker.wanted(index)
    const onAbort = (): void => { this.fail(new AbortedError()) }
    this.init.signal.addEventListener('abort', onAbort, { once: true })
    const ticker = setInterval(() => { void this.tick() }, refreshMs)
    try {
      this.pump()
      await done
    } finally {
      clearInterval(ticker)
      clearTimeout(this.haveTimer)
      clearTimeout(this.wakeTimer)
      this.flushHave()
      stopHave()
      this.task.onWant = undefined
      this.init.signal.removeEventListener('abort', onAbort)
    }
  }

  /** Takes what a holder's metadata says it has, and the digests it knows. */
  private learn (peer: string, meta: TaskMetadata): void {
    if (meta.length !== this.task.length || meta.pieceSize !== this.task.plan.pieceSize) return
    this.peers.add(peer)
    this.refresh.heard(peer)
    if (meta.complete) this.completeHolders.add(peer)
    this.picker.peerBitmap(peer, Bitmap.fromBase64(this.task.plan.pieceCount, meta.bitmap))
    meta.digests.forEach((digest, index) => {
      if (digest !== null && index < this.expected.length && this.expected[index] === null) this.expected[index] = digest
    })
    // Roots are comparable only over blocks of the same size.
    if (meta.blockSize === this.task.blocks.layout.blockSize) {
      meta.roots?.forEach((root, index) => {
        if (root !== null && index < this.expectedRoots.length && this.expectedRoots[index] === null) this.expectedRoots[index] = root
      })
    }
  }

  private pump (): void {
    if (this.finished) return
    if (this.task.bitmap.complete) {
      this.finish()
      return
    }
    for (const peer of this.components.scores.rank(this.peers)) {
      if (!this.backoff.ready(peer)) continue
      for (let index = this.picker.next(peer); index !== undefined; index = this.picker.next(peer)) {
        this.picker.requested(peer, index)
        this.busy.add(index)
        this.peerRequests++
        void this.fromPeer(peer, index)
      }
    }
    if (this.init.source() === undefined) return
    const ownersCover = this.ownersCover()
    while (this.fromOriginNow.size < this.init.originConcurrency) {
      const index = this.nextOriginPiece(ownersCover)
      if (index === undefined) break
      this.startOrigin(index)
    }
    if (!this.init.backToSource) return
    const { task, picker, handover, busy } = this
    const slots = this.init.originConcurrency - this.fromOriginNow.size
    const pieces = this.fallback.next({ task, picker, scores: this.components.scores, handover, busy, fromOrigin: this.fromOriginNow, slots, self: this.components.swarm.peerId, ownersCover })
    for (const index of pieces) this.startOrigin(index)
  }

  private startOrigin (index: number): void {
    this.busy.add(index)
    this.fromOriginNow.add(index)
    this.picker.requested(originId, index)
    void this.fromOrigin(index)
  }

  /** The next piece that goes to the origin whatever the swarm does (share-fetch.ts). */
  private nextOriginPiece (ownersCover: boolean): number | undefined {
    const { task, picker, handover, busy } = this
    const { swarm } = this.components
    return nextSharePiece({
      task,
      plan: this.init.originPlan,
      picker,
      handover,
      busy,
      originInFlightBytes: [...this.fromOriginNow].reduce((sum, index) => sum + task.plan.size(index), 0),
      self: swarm.peerId,
      uplinkBytesPerMs: swarm.uplinkBytesPerMs?.(),
      unsharedBytes: this.unsharedBytes(),
      partnerTakesOver: ownersCover,
      othersWanting: this.othersWanting(),
      // Seeds of an older release fetch their whole share whatever others hold; a seed that
      // announced nothing of its share yet may not see our announcements either (gossip meshes
      // form within a heartbeat or so) and may have its whole origin concurrency in flight.
      mayTakeFrom: owner => swarm.speaksWire?.(owner, '1.1.0') === true && handover?.announcedAny(owner) === true,
      originPieceMs: this.originPieceMs()
    })
  }

  /**
   * Whether the live owners of shares cover each other: two or more, each pacing its share and
   * taking over what another lags (this release's seeds: wire 1.1.0 and later). Then an owner's
   * share is left to the owners, and a slow owner's lag goes to the others, not to the origin twice.
   */
  private ownersCover (): boolean {
    const owners = this.handover?.liveOwners() ?? []
    const { swarm } = this.components
    return owners.length >= 2 && owners.every(owner => owner === swarm.peerId || swarm.speaksWire?.(owner, '1.1.0') === true)
  }

  /**
   * Bytes of the pieces this node fetched from the origin that no peer holds yet, left out once
   * nobody took them for `unsharedStaleMs` (share-pace.ts).
   */
  private unsharedBytes (): number {
    const since = Date.now() - unsharedStaleMs
    let bytes = 0
    for (const [index, at] of this.unshared) {
      if (at < since || this.picker.holdersOf(index).length > 0) this.unshared.delete(index)
      else bytes += this.task.plan.size(index)
    }
    return bytes
  }

  /** What one origin piece of this task takes here, ms, from the origin's rate per connection. */
  private originPieceMs (): number | undefined {
    const rate = this.fallback.measuredConnectionBytesPerMs
    return rate === undefined ? undefined : this.task.plan.pieceSize / rate
  }

  private async fromOrigin (index: number): Promise<void> {
    const { task, file } = this.init
    const started = performance.now()
    try {
      await fetchPiece(this.components, {
        task,
        file,
        source: () => this.init.source() ?? { url: 'about:blank', headers: {} },
        pace: this.init.originPace,
        whole: this.init.whole,
        onPiece: (landed) => { this.recorded(landed) }
      }, index, this.signal)
      this.components.metrics?.pieceFetched('origin', (performance.now() - started) / 1000)
      this.fallback.originFetched(task.plan.size(index), performance.now() - started)
      this.components.swarm.fetchedFromOrigin?.(task.id, index)
      this.unshared.set(index, Date.now())
      this.log.debug('piece from origin', { piece: index, ms: Math.round(performance.now() - started) })
      this.cancels.cancel(index, this.picker.completed(originId, index))
    } catch (error) {
      this.picker.failed(originId, index, 'error')
      if (this.signal.aborted) return
      if (error instanceof StorageError) {
        this.fail(error)
        return
      }
      this.originError = error
      this.log.warn('origin piece failed', { task: task.id, piece: index, error })
      // Without a peer to turn to for this piece, the download cannot finish.
      if (this.picker.missingWithNoPeer().includes(index)) this.fail(error)
    } finally {
      this.busy.delete(index)
      this.fromOriginNow.delete(index)
      this.pump()
    }
  }

  private async fromPeer (peer: string, index: number): Promise<void> {
    const { task, file } = this.init
    const { swarm, scores } = this.components
    const started = Date.now()
    const size = task.plan.size(index)
    // An empty piece has no blocks: its digest is that of no bytes.
    const expectedRoot = this.expectedRoots[index] ?? null
    const blocks = new PieceBlockHasher(task.blocks.layout, index, { piece: this.needsPieceDigest(expectedRoot), whole: this.init.whole })
    let senderDigest: string | undefined
    const request = this.cancels.start(index, peer)
    const cancelled = request.signal
    /** Bytes of this piece received from this peer, and whether they became the piece. */
    let received = 0
    let used = false
    try {
      /** Block hashes the sender gave, once they proved to hash to the piece's root. */
      let provenBlocks: Buffer[] | undefined
      /** Blocks checked and made readable so far (cut-through). */
      let verifiedBlocks = 0
      for (let offset = 0; offset < size; offset += maxBlockBytes) {
        // Landed from another source: the rest of it is not worth this holder's uplink.
        if (task.bitmap.has(index)) return
        const length = Math.min(maxBlockBytes, size - offset)
        const signal = AbortSignal.any([this.signal, cancelled, AbortSignal.timeout(blockTimeoutMs)])
        const block = await swarm.block(peer, { task: task.id, piece: index, offset, length }, signal)
        if (block === undefined) {
          this.picker.failed(peer, index, 'refused')
          scores.failed(peer, 'refused')
          return
        }
        received += block.data.byteLength
        if (task.bitmap.has(index)) {
          // Landed while this block travelled: not written over the verified piece.
          block.release?.()
          return
        }
        senderDigest ??= block.digest
        if (provenBlocks === undefined && expectedRoot !== null && block.blocks !== undefined) {
          const claimed = block.blocks.map(hex => Buffer.from(hex, 'hex'))
          if (claimed.length === task.blocks.layout.blocksIn(index) && merkleRoot(claimed).toString('hex') === expectedRoot) {
            provenBlocks = claimed
            // Proven blocks may feed the whole-file hash (each only if it hashes to its proof).
            blocks.expect(claimed)
          }
        }
        this.fallback.swarmDelivered(block.data.byteLength)
        const chunks = [...block.data].map(chunk => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
        try {
          try {
            await file.write(chunks, task.plan.start(index) + offset)
          } catch (error) {
            // Our disk's fault (a full disk), not the peer's.
            this.picker.failed(peer, index, 'error')
            this.fail(error)
            return
          }
          // Written: the chunks are needed no more, so memory of their own moves to the hashing
          // thread; pooled memory (shared) is hashed where it lies.
          for (const chunk of chunks) {
            await blocks.update(chunk, block.owned === true)
          }
        } finally {
          // Pooled memory goes back once the hashing thread has read it (or never will).
          if (block.release !== undefined) void blocks.hashed().then(block.release)
        }
        if (provenBlocks !== undefined) {
          // Cut-through: each block that hashes to its proven hash is readable at once, before
          // the rest of the piece arrives.
          const landed = await blocks.sealedHashes(blocks.sealed)
          for (; verifiedBlocks < landed.length; verifiedBlocks++) {
            if (!landed[verifiedBlocks]!.equals(provenBlocks[verifiedBlocks]!)) {
              this.log.warn('peer sent a corrupt block: banned', { peer, task: task.id, piece: index, block: verifiedBlocks })
              this.picker.failed(peer, index, 'corrupt')
              scores.failed(peer, 'corrupt')
              return
            }
          }
          const verifiedBytes = Math.min(size, verifiedBlocks * task.blocks.layout.blockSize)
          if (verifiedBytes > task.receivedOf(index)) task.markReceived(index, verifiedBytes)
        }
      }
      const { piece: digest, blocks: blockHashes } = await blocks.digest()
      // A root from a block-aware holder, else the whole-piece digest (all a 0.1.0 holder gives).
      const expected = this.expected[index] ?? senderDigest
      const bad = (expectedRoot !== null && expectedRoot !== merkleRoot(blockHashes).toString('hex')) || (digest !== undefined && expected !== undefined && expected !== digest)
      if (bad) {
        this.log.warn('peer sent a corrupt piece: banned', { peer, task: task.id, piece: index })
        this.picker.failed(peer, index, 'corrupt')
        scores.failed(peer, 'corrupt')
        return
      }
      scores.completed(peer, size, Math.max(1, Date.now() - started))
      this.backoff.succeeded(peer)
      this.components.metrics?.pieceFetched('peer', (Date.now() - started) / 1000)
      this.log.debug('piece from peer', { peer, piece: index, ms: Date.now() - started, inFlight: this.peerRequests })
      this.handover?.progressed(peer, index, false)
      used = !task.bitmap.has(index)
      this.landed(peer, index, digest, blockHashes)
    } catch (error) {
      if (this.signal.aborted) return
      // Cancelled: the piece landed from another source (counted below as a duplicate).
      if (cancelled.aborted) return
      if (error instanceof PeerBusyError) {
        // An answer, not a fault: the piece goes to another holder, this one waits as it asked.
        // A holder too busy to take more is a swarm at work, not a silent one.
        this.fallback.swarmAnswered()
        this.picker.failed(peer, index, 'error')
        this.backoff.pause(peer, error.retryAfterMs)
        this.log.debug('peer busy', { peer, piece: index, retryAfterMs: error.retryAfterMs })
        this.wakeAfter(error.retryAfterMs)
        return
      }
      const reason = error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'error'
      this.picker.failed(peer, index, reason)
      scores.failed(peer, reason)
      this.backoff.failed(peer)
      if (!swarm.connectedPeers().includes(peer)) {
        this.forgetPeer(peer)
        this.seedsGone()
      }
      this.log.debug('peer piece failed', { peer, piece: index, error })
    } finally {
      request.end()
      if (!used && received > 0) this.components.metrics?.peerBytesWasted(task.bitmap.has(index) ? 'duplicate' : 'failed', received)
      blocks.drop()
      this.peerRequests--
      this.busy.delete(index)
      this.pump()
    }
  }

  /**
   * Whether a piece from a peer needs its whole-piece sha256 as well as its block hashes (a
   * second hash of every byte): when no block root is known for it (a holder of release 0.1.0
   * gives only that digest), or when a connected peer speaks only wire 1.0.0 (it verifies
   * pieces we serve against that digest). Otherwise the Merkle root checks every byte.
   */
  private needsPieceDigest (expectedRoot: string | null): boolean {
    if (expectedRoot === null) return true
    const { swarm } = this.components
    return swarm.connectedPeers().some(peer => !swarm.speaks(peer, protocols.meta))
  }

  /** Pumps again in `ms`, unless a pump is due sooner already. */
  private wakeAfter (ms: number): void {
    const at = Date.now() + ms
    if (this.wakeTimer !== undefined && this.wakeAt <= at) return
    clearTimeout(this.wakeTimer)
    this.wakeAt = at
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined
      this.wakeAt = Infinity
      this.pump()
    }, ms + 1)
  }

  /** A verified piece from a peer is on disk: record it, tell readers and the swarm. */
  private landed (source: string, index: number, digest: string | undefined, blockHashes: Buffer[]): void {
    if (!this.task.bitmap.has(index)) {
      this.task.markPieceComplete(index, digest, 'peer', source, blockHashes)
      this.recorded(index)
    }
    this.cancels.cancel(index, this.picker.completed(source, index))
  }

  /** A piece is now in the task's bitmap: checkpoint it and tell the swarm (batched). */
  private recorded (index: number): void {
    this.lastAnyProgress = Date.now()
    this.init.onPiece(index)
    this.pendingHave.push(index)
    this.haveTimer ??= setTimeout(() => { this.flushHave() }, haveFlushMs)
  }

  private flushHave (): void {
    this.haveTimer = undefined
    if (this.pendingHave.length === 0) return
    const pieces = this.pendingHave
    this.pendingHave = []
    const digests = pieces.map(index => this.task.digestOf(index) ?? '')
    if (digests.every(digest => digest.length === 64)) this.components.swarm.announceHave(this.task.id, pieces, digests)
    else this.components.swarm.announceHave(this.task.id, pieces, [])
  }

  /** Once a second: learn new holders and bitmaps, expire stuck requests, give up when hopeless. */
  private async tick (): Promise<void> {
    if (this.finished) return
    for (const { peerId, index } of this.picker.expired()) {
      this.picker.failed(peerId, index, 'timeout')
      if (peerId !== originId) this.components.scores.failed(peerId, 'timeout')
    }
    // Holders not heard from lately are re-read (gossip loses messages); a search for new
    // holders among all connected peers and on the DHT is costlier and runs less often.
    try {
      if (this.refresh.searchDue()) {
        const known = this.peers.size
        for (const holder of await this.components.swarm.findHolders(this.task.id, this.signal, refreshMs)) this.learn(holder.peer, holder.meta)
        this.refresh.searched(this.peers.size > known)
      } else {
        await Promise.all(this.refresh.due([...this.peers].filter(peer => this.wantsFrom(peer))).map(async (peer) => {
          const meta = await this.components.swarm.meta(peer, this.task.id, AbortSignal.any([this.signal, AbortSignal.timeout(refreshMs)])).catch(() => undefined)
          if (meta !== undefined) this.learn(peer, meta)
        }))
      }
    } catch {}
    this.seedsGone()
    if (this.handover?.needsElection === true) this.handover.elect(await this.components.swarm.liveSeeds().catch(() => []))
    const idle = this.busy.size === 0 && this.fromOriginNow.size === 0
    if (idle && Date.now() - this.lastAnyProgress > this.init.stallMs * 6) {
      this.fail(this.originError ?? new UpstreamUnreachableError(`no peer or origin can supply the rest of task ${this.task.id}`))
      return
    }
    this.pump()
  }

  private forgetPeer (peer: string): void {
    this.picker.peerGone(peer)
    this.peers.delete(peer)
    this.backoff.forget(peer)
    this.refresh.forget(peer)
  }

  /** Elected seeds whose connection closed: their shares are handed over (ShareHandover). */
  private seedsGone (): void {
    const gone = this.handover?.observe(this.components.swarm.connectedPeers()) ?? []
    for (const seed of gone) {
      this.forgetPeer(seed)
      this.log.info('elected seed gone: its share is handed over', { task: this.task.id, seed })
    }
  }

  /** Other nodes downloading the task: the task topic's subscribers, else the holders known that lack something. */
  private othersWanting (): number {
    return this.components.swarm.wanters?.(this.task.id) ?? this.peers.size - this.completeHolders.size
  }

  /** A holder worth re-reading: it has not told us it holds everything. */
  private wantsFrom (peer: string): boolean {
    return !this.completeHolders.has(peer)
  }

  private finish (): void {
    if (this.finished) return
    this.finished = true
    this.stopper.abort()
    this.resolve()
  }

  private fail (error: unknown): void {
    if (this.finished) return
    this.finished = true
    this.stopper.abort()
    this.reject(error)
  }
}
