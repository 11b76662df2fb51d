import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../logging/logger.js'
import type { Metrics } from '../metrics/metrics.js'
import { BootstrapRedialer } from './bootstrap-redialer.js'
import type { DnsBootstrapName } from './dns-bootstrap.js'
import { handleFetch, requestFetch } from './fetch-protocol.js'
import type { P2PHost } from './host.js'
import type { LocalTasks } from './local-tasks.js'
import type { FetchRequest, FetchResponse, GossipMessage, PieceRequest, TaskMetadata } from './messages.js'
import { handleMeta, requestMeta } from './meta-protocol.js'
import { UploadQueue } from './upload-queue.js'
import { handlePiece, requestBlock, type ReceivedBlock } from './piece-protocol.js'
import { protocolId, protocols, topics, type ProtocolName } from './protocols.js'
import { taskCid } from './task-cid.js'
import { TaskProvides } from './task-provides.js'
import type { Pace } from '../limits/token-bucket.js'
import { gossipDialect, servedDialects, type WireDialect, type WireVersion } from './wire-versions.js'
import type { HostPort } from '../config/index.js'
import { DataConnections } from './data-connection/connections.js'
import { DataServer } from './data-connection/server.js'
import { DiscoverySchedule } from '../scheduling/discovery-schedule.js'
import { dhtMayNameMoreHolders } from '../scheduling/holder-lookup.js'
import { ThroughputMeter } from '../scheduling/rate-estimator.js'

export interface SwarmComponents {
  host: P2PHost
  tasks: LocalTasks
  logger: Logger
  metrics?: Pick<Metrics, 'uploaded' | 'dataBytes' | 'dataConnection' | 'dataSlab' | 'peerBytesWasted'>
}

/** Piece bytes on data connections beside libp2p (src/p2p/data-connection/). */
export interface DataConnectionInit {
  /** Where this node's data port listens. */
  listen: HostPort
  /** Encrypt records; a connection is plain only when both ends turned this off. @default true */
  encrypt: boolean
}

export interface SwarmInit {
  role: 'peer' | 'seed'
  bootstrap: string[]
  /** DNS names (a headless Service of the seeds) whose every address is a bootstrap node. @default [] */
  bootstrapDns?: DnsBootstrapName[]
  /** Test-only fault injection: serve corrupted blocks. */
  corruptBlocks?: boolean
  /** Streams of each protocol one peer connection may have open towards us. @default 256 */
  maxStreamsPerPeer?: number
  /** Paces bytes served to peers. @default unlimited */
  uploadPace?: Pace
  /** Paces bytes taken from peers. @default unlimited */
  downloadPace?: Pace
  /**
   * The wire versions this node speaks, newest first (src/p2p/wire-versions.ts). Test-only:
   * the mixed swarm test makes a node that speaks only what release 0.1.0 did.
   * @default servedDialects
   */
  wireDialects?: readonly WireDialect[]
  /** Serve and use data connections; without it pieces move over libp2p streams only. */
  data?: DataConnectionInit
}

export interface Holder {
  peer: string
  meta: TaskMetadata
}

export type HaveListener = (peer: string, message: Extract<GossipMessage, { type: 'have' }>) => void

/** The window of the uplink's meter (uplinkBytesPerMs). */
const uplinkWindowMs = 3000

/**
 * This node's face to the swarm: the protocol handlers, who holds what (asked directly, on the
 * DHT and by gossip), and the calls the download engine makes to other nodes.
 */
export class Swarm {
  private readonly host: P2PHost
  private readonly tasks: LocalTasks
  private readonly log: Logger
  private readonly metrics?: Pick<Metrics, 'uploaded' | 'dataBytes' | 'dataConnection' | 'dataSlab' | 'peerBytesWasted'>
  private readonly init: SwarmInit
  private readonly dataServer?: DataServer
  private readonly dataConnections?: DataConnections
  private readonly redialer: BootstrapRedialer
  private readonly dialects: readonly WireDialect[]
  private readonly haveListeners = new Map<string, Set<HaveListener>>()
  private discoverTimer?: NodeJS.Timeout
  /** When the DHT is next asked for this node's neighbourhood, and whether that view stopped growing. */
  private readonly discovery = new DiscoverySchedule()
  private readonly provides = new TaskProvides((taskId) => { void this.provide(taskId) })
  private readonly lifetime = new AbortController()
  /**
   * What each peer said it speaks in its last identify. Not the peer store's list: libp2p adds
   * to that every protocol a peer opened a stream *to us* with, so a peer that sent a seed a
   * fetch request would look like a seed to it ever after.
   */
  private readonly identifiedProtocols = new Map<string, readonly string[]>()
  /** Bytes this node served to peers. */
  uploaded = 0
  /** This node's uplink: every block served, on either transport, takes its turn here. */
  private readonly uploads = new UploadQueue()
  /** Block bytes that reached the peers this node served, lately (an elected seed paces its share by it). */
  private sent = new ThroughputMeter({ windowMs: uplinkWindowMs })
  private lastArrivedAt = -Infinity

  constructor (components: SwarmComponents, init: SwarmInit) {
    this.host = components.host
    this.tasks = components.tasks
    this.log = components.logger.forComponent('p2p')
    this.metrics = components.metrics
    this.init = init
    this.dialects = init.wireDialects ?? servedDialects
    // Release 0.1.0 had no data connections: a node speaking only its wire has none either.
    if (init.data !== undefined && this.dialects[0]?.version === servedDialects[0]?.version) {
      this.dataServer = new DataServer({ tasks: this.tasks, logger: components.logger }, {
        listen: init.data.listen,
        encrypt: init.data.encrypt,
        peerId: this.host.peerId.toString(),
        corruptBlocks: init.corruptBlocks,
        pace: init.uploadPace,
        uploads: this.uploads,
        onSent: (bytes) => { this.metrics?.dataBytes('sent', bytes) },
        onServed: (bytes) => { this.served(bytes) },
        onArrived: (bytes) => { this.arrived(bytes) }
      })
      this.dataConnections = new DataConnections({ host: this.host, logger: components.logger }, {
        encrypt: init.data.encrypt,
        pace: init.downloadPace,
        onReceived: (bytes) => { this.metrics?.dataBytes('received', bytes) },
        onDiscarded: (bytes) => { this.metrics?.peerBytesWasted('discarded', bytes) },
        onOutcome: (outcome) => { this.metrics?.dataConnection(outcome) },
        onSlab: (outcome) => { this.metrics?.dataSlab(outcome) }
      })
    }
    this.redialer = new BootstrapRedialer({ host: this.host, logger: components.logger }, { addresses: init.bootstrap, names: init.bootstrapDns })
  }

  get peerId (): string {
    return this.host.peerId.toString()
  }

  get isSeed (): boolean {
    return this.init.role === 'seed'
  }

  async start (): Promise<void> {
    // libp2p counts inbound streams per connection and protocol, and resets those over the cap.
    const limits = { maxInboundStreams: this.init.maxStreamsPerPeer ?? 256, maxOutboundStreams: 256 }
    const pieceInit = {
      corruptBlocks: this.init.corruptBlocks,
      pace: this.init.uploadPace,
      uploads: this.uploads,
      onServed: (bytes: number) => { this.served(bytes) },
      onArrived: (bytes: number) => { this.arrived(bytes) }
    }
    // Every version's ids are served: an older peer dials the ids it knows (wire-versions.ts).
    for (const dialect of this.dialects) {
      await this.host.handle(protocolId('meta', dialect.version), handleMeta(this.tasks, this.log, dialect), limits)
      await this.host.handle(protocolId('piece', dialect.version), handlePiece(this.tasks, this.log, dialect, pieceInit), limits)
      if (this.isSeed) await this.host.handle(protocolId('fetch', dialect.version), handleFetch(this.tasks, this.log, dialect), limits)
    }
    if (this.dataServer !== undefined) {
      await this.dataServer.start()
      await this.host.handle(protocols.data, this.dataServer.handler(), limits)
    }
    this.host.addEventListener('peer:identify', (event) => {
      this.identifiedProtocols.set(event.detail.peerId.toString(), event.detail.protocols)
    })
    this.host.addEventListener('peer:disconnect', (event) => {
      this.identifiedProtocols.delete(event.detail.toString())
    })
    // Peers identified before this point: no handler of ours ran yet, so the store is still true.
    for (const peer of this.connectedPeers()) {
      const known = await this.host.peerStore.get(peerIdFromString(peer)).catch(() => undefined)
      if (known !== undefined && known.protocols.length > 0) this.identifiedProtocols.set(peer, known.protocols)
    }
    this.host.services.pubsub.subscribe(topics.tasks)
    this.host.services.pubsub.addEventListener('message', (event) => { this.onGossip(event.detail) })
    this.redialer.start()
    // Meeting the bootstrap peers is not meeting everyone: ask the DHT for our neighbourhood so
    // that peers connect to each other, not only to their bootstrap node. Often while peers
    // appear, rarely once none do (DiscoverySchedule).
    const schedule = this.discovery
    const next = (ms: number): void => {
      clearTimeout(this.discoverTimer)
      if (this.lifetime.signal.aborted) return
      this.discoverTimer = setTimeout(discover, ms)
      this.discoverTimer.unref()
    }
    const discover = (): void => {
      this.discoverTimer = undefined
      void this.discover().finally(() => {
        // A peer identified during the round already set the next one.
        if (this.discoverTimer === undefined) next(schedule.roundDone(this.connectedPeers()))
      })
    }
    this.host.addEventListener('peer:identify', (event) => {
      const soon = schedule.identified(event.detail.peerId.toString())
      if (soon !== undefined) next(soon)
    })
    next(500)
    // What this node already holds is advertised once it has someone to tell.
    const announceHeld = (): void => {
      this.host.removeEventListener('peer:identify', announceHeld)
      for (const task of this.tasks.held?.() ?? []) this.announceTask(task.id, task.complete)
    }
    this.host.addEventListener('peer:identify', announceHeld)
  }

  async stop (): Promise<void> {
    this.lifetime.abort()
    this.provides.stop()
    clearTimeout(this.discoverTimer)
    this.redialer.stop()
    this.dataConnections?.stop()
    await this.dataServer?.stop()
  }

  /** Where this node's data port listens, when it serves data connections. */
  get dataAddress (): HostPort | undefined {
    return this.dataServer?.address
  }

  private served (bytes: number): void {
    this.uploaded += bytes
    this.metrics?.uploaded(bytes)
  }

  /**
   * Bytes per ms that reached the peers this node served, over the last few seconds: acked bytes
   * where the downloader acks. Not the link's capacity (an idle link reads low), but a saturated
   * one reads its capacity: what share-pace.ts needs. Neither the bytes handed to sockets nor the
   * UploadQueue's turn times would do: the kernel's send buffers take megabytes at once, and a
   * turn ends once most of its bytes arrived (or at once, on a connection whose acks came late),
   * so a 1 MB/s uplink read 2-3 MB/s.
   */
  uplinkBytesPerMs (): number {
    return this.sent.rate()
  }

  private arrived (bytes: number): void {
    // After a quiet spell the meter starts afresh, so that it reads the new flow from its first
    // bytes rather than averaging them with the silence (a seed starting a task after an idle hour).
    const now = Date.now()
    if (now - this.lastArrivedAt > uplinkWindowMs) this.sent = new ThroughputMeter({ windowMs: uplinkWindowMs })
    this.lastArrivedAt = now
    this.sent.add(bytes)
  }

  /** Piece `index` of `taskId` was fetched here from the origin: its first copy goes first (UploadQueue). */
  fetchedFromOrigin (taskId: string, index: number): void {
    this.uploads.markFresh(`${taskId}:${index}`)
  }

  connectedPeers (): string[] {
    // A closing connection is still listed for a moment, but every new stream on it fails.
    const open = this.host.getConnections().filter(connection => connection.status === 'open')
    return [...new Set(open.map(connection => connection.remotePeer.toString()))]
  }

  /** Each connected peer with the addresses its connections use. */
  connections (): Array<{ peer: string, addresses: string[] }> {
    const byPeer = new Map<string, Set<string>>()
    for (const connection of this.host.getConnections()) {
      const peer = connection.remotePeer.toString()
      const addresses = byPeer.get(peer) ?? new Set<string>()
      // The peer id is shown beside the addresses; repeating it in each says nothing.
      addresses.add(connection.remoteAddr.toString().replace(`/p2p/${peer}`, ''))
      byPeer.set(peer, addresses)
    }
    return [...byPeer].map(([peer, addresses]) => ({ peer, addresses: [...addresses] }))
  }

  /**
   * Whether `peer` (or this node, for its own id) speaks wire `version`: for a peer, whether its
   * last identify listed the fetch protocol of that version (false while not identified yet).
   */
  speaksWire (peer: string, version: WireVersion): boolean {
    if (peer === this.peerId) return this.dialects.some(dialect => dialect.version === version)
    return this.speaks(peer, protocolId('fetch', version))
  }

  /**
   * Seeds in reach (ourselves included when we are one): peers that speak the fetch protocol.
   * A peer met a moment ago may not have been identified yet: it gets up to a second.
   */
  async liveSeeds (): Promise<string[]> {
    const seeds = this.isSeed ? [this.peerId] : []
    await Promise.all(this.connectedPeers().map(async (peer) => {
      if (!this.identifiedProtocols.has(peer)) await this.identified(peer, 1000)
      if (this.dialects.some(dialect => this.speaks(peer, protocolId('fetch', dialect.version)))) seeds.push(peer)
    }))
    return seeds
  }

  /**
   * Whether `peer`'s last identify listed `protocol` (false while it is not identified yet). A
   * protocol that older releases lack is dialled only to peers that speak it (wire-versions.ts).
   */
  speaks (peer: string, protocol: string): boolean {
    return this.identifiedProtocols.get(peer)?.includes(protocol) === true
  }

  /**
   * The versions to offer `peer` for `protocol`, newest first: those its identify listed, so
   * that an older peer costs no failed round of negotiation per stream; all of ours while it is
   * not identified yet (or lists none of them: then negotiation fails and says so).
   */
  private dialectsFor (peer: string, protocol: ProtocolName): readonly WireDialect[] {
    const spoken = this.dialects.filter(dialect => this.speaks(peer, protocolId(protocol, dialect.version)))
    return spoken.length > 0 ? spoken : this.dialects
  }

  private async identified (peer: string, timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.host.removeEventListener('peer:identify', onIdentify)
        resolve()
      }
      const onIdentify = (event: CustomEvent<{ peerId: PeerId }>): void => {
        if (event.detail.peerId.toString() === peer) done()
      }
      const timer = setTimeout(done, timeoutMs)
      this.host.addEventListener('peer:identify', onIdentify)
    })
  }

  /**
   * Nodes holding (part of) a task: connected peers are asked directly, and DHT providers are
   * dialled and asked too, unless the DHT cannot name anyone the direct round missed
   * (scheduling/holder-lookup.ts). Slow or failing peers are skipped.
   */
  async findHolders (taskId: string, signal: AbortSignal, timeoutMs = 2000): Promise<Holder[]> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
    // Every peer asked listens on it until the search ends: more than Node's warning level of 10
    // in any swarm of a dozen nodes, and no leak.
    setMaxListeners(0, deadline)
    const asked = new Set<string>([this.peerId])
    const holders: Holder[] = []
    const ask = async (peer: string): Promise<void> => {
      if (asked.has(peer)) return
      asked.add(peer)
      try {
        const meta = await requestMeta(this.host, peerIdFromString(peer), this.dialectsFor(peer, 'meta'), taskId, deadline)
        if (meta !== undefined) holders.push({ peer, meta })
      } catch (error) {
        this.log.debug('meta query failed', { peer, error })
      }
    }
    const connected = this.connectedPeers()
    const direct = Promise.all(connected.map(ask))
    const { dht } = this.host.services
    const lookup = dhtMayNameMoreHolders({
      routingTableSize: dht.routingTable.size,
      bucketSize: dht.k,
      askedDhtPeers: connected.filter(peer => this.speaks(peer, protocols.kad)).length,
      settled: this.discovery.settled
    })
    const viaDht = lookup && (async () => {
      try {
        for await (const event of this.host.services.dht.findProviders(taskCid(taskId), { signal: deadline })) {
          if (event.name !== 'PROVIDER') continue
          await Promise.all(event.providers.map(async (provider) => {
            if (asked.has(provider.id.toString())) return
            if (provider.multiaddrs.length > 0) await this.host.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs }).catch(() => {})
            await ask(provider.id.toString())
          }))
        }
      } catch (error) {
        if (!deadline.aborted) this.log.debug('findProviders failed', { task: taskId, error })
      }
    })()
    await direct
    // Connected peers answer in milliseconds; the DHT gets only what is left of a short wait.
    if (viaDht === false || holders.some(holder => holder.meta.complete)) return holders
    await Promise.race([viaDht, new Promise(resolve => setTimeout(resolve, Math.min(500, timeoutMs)).unref())])
    return holders
  }

  async meta (peer: string, taskId: string, signal: AbortSignal): Promise<TaskMetadata | undefined> {
    return await requestMeta(this.host, peerIdFromString(peer), this.dialectsFor(peer, 'meta'), taskId, signal)
  }

  /**
   * One block from `peer`: over the data connection to it when one is open or can be opened,
   * otherwise over a `/damselfly/piece/1.0.0` stream. The answer is the same either way.
   */
  async block (peer: string, request: PieceRequest, signal: AbortSignal): Promise<ReceivedBlock | undefined> {
    const peerId = peerIdFromString(peer)
    // Only to a peer whose identify listed the data protocol: an older node costs no round trip.
    const data = this.speaks(peer, protocols.data) ? await this.dataConnections?.get(peerId, signal) : undefined
    if (data !== undefined) return await data.request(request, signal)
    return await requestBlock(this.host, peerId, this.dialectsFor(peer, 'piece'), request, signal, this.init.downloadPace)
  }

  async fetchFromSeed (seed: string, request: FetchRequest, signal: AbortSignal): Promise<FetchResponse> {
    if (seed === this.peerId) throw new Error('a node does not send fetch requests to itself')
    return await requestFetch(this.host, peerIdFromString(seed), this.dialectsFor(seed, 'fetch'), request, signal)
  }

  /** Tells the swarm this node holds (part of) a task: gossip now, a DHT provider record soon (TaskProvides). */
  announceTask (taskId: string, complete: boolean): void {
    this.publish(topics.tasks, { type: 'task', task: taskId, complete, seed: this.isSeed })
    this.provides.announced(taskId)
  }

  withdrawTask (taskId: string): void {
    this.publish(topics.tasks, { type: 'withdraw', task: taskId })
    this.provides.withdrawn(taskId)
  }

  private async provide (taskId: string): Promise<void> {
    try {
      for await (const _event of this.host.services.dht.provide(taskCid(taskId), { signal: AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(30_000)]) })) {}
    } catch (error) {
      this.log.debug('provide failed', { task: taskId, error })
    }
  }

  announceHave (taskId: string, pieces: number[], digests: string[]): void {
    this.publish(topics.task(taskId), { type: 'have', task: taskId, pieces, digests })
  }

  /**
   * Other nodes that want a task now: the peers subscribed to its `have` topic, as every running
   * download of it is (gossipsub learns the subscriptions of the peers it is connected to).
   */
  wanters (taskId: string): number {
    return this.host.services.pubsub.getSubscribers(topics.task(taskId)).length
  }

  /** Listens for `have` updates of one task while it downloads; returns the unsubscribe call. */
  onHave (taskId: string, listener: HaveListener): () => void {
    let listeners = this.haveListeners.get(taskId)
    if (listeners === undefined) {
      listeners = new Set()
      this.haveListeners.set(taskId, listeners)
      this.host.services.pubsub.subscribe(topics.task(taskId))
    }
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
      if (listeners.size === 0) {
        this.haveListeners.delete(taskId)
        this.host.services.pubsub.unsubscribe(topics.task(taskId))
      }
    }
  }

  /** Gossip topics have no negotiation: the message goes out in the oldest version's shapes. */
  private publish (topic: string, message: GossipMessage): void {
    let encoded: unknown
    try {
      encoded = gossipDialect(this.dialects).encode('gossipMessage', message)
    } catch (error) {
      this.log.warn('gossip message not published', { topic, error })
      return
    }
    this.host.services.pubsub.publish(topic, Buffer.from(JSON.stringify(encoded))).catch((error: unknown) => {
      this.log.debug('publish failed', { topic, error })
    })
  }

  private onGossip (message: { topic: string, data: Uint8Array, type?: string, from?: PeerId }): void {
    if (message.type !== 'signed' || message.from === undefined) return
    let parsed: GossipMessage
    try {
      const result = this.dialects[0]!.decode.gossipMessage.safeParse(JSON.parse(Buffer.from(message.data).toString('utf8')))
      if (!result.success) return
      parsed = result.data
    } catch {
      return
    }
    if (parsed.type === 'have') {
      for (const listener of this.haveListeners.get(parsed.task) ?? []) listener(message.from.toString(), parsed)
    }
  }

  private async discover (): Promise<void> {
    if (this.connectedPeers().length === 0) return
    try {
      const signal = AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(5000)])
      for await (const _event of this.host.services.dht.getClosestPeers(this.host.peerId.toMultihash().bytes, { signal })) {}
    } catch (error) {
      this.log.debug('neighbourhood query failed', { error })
    }
  }
}
