import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { DataConnectionError } from '../../errors.js'
import type { Pace } from '../../limits/token-bucket.js'
import type { Logger } from '../../logging/logger.js'
import type { P2PHost } from '../host.js'
import { protocols } from '../protocols.js'
import { readFrame, wire, writeFrame } from '../wire.js'
import { DataConnection } from './client.js'
import { deriveKeys } from './keys.js'
import { dataOfferResponse } from './messages.js'
import { defaultCipher, type RecordCipher } from './records.js'
import type { SlabOutcome } from './slab-pool.js'

/** A peer whose data connection could not be opened is asked again after this long. */
const retryAfterFailureMs = 30_000
/** A peer that does not speak the data protocol (an older node) is asked again after this long. */
const retryUnsupportedMs = 10 * 60_000
/** Getting a token and connecting may take this long, then the peer's blocks go over libp2p. */
const openTimeoutMs = 5_000

export interface DataConnectionsComponents {
  host: P2PHost
  logger: Logger
}

/** How a try to open a data connection ended, for the metric. */
export type DataConnectionOutcome = 'opened' | 'failed' | 'unsupported' | 'cut'

export interface DataConnectionsInit {
  /** This node's `--data-encryption`. */
  encrypt: boolean
  cipher?: RecordCipher
  /** Paces bytes taken from peers. */
  pace?: Pace
  onReceived?: (bytes: number) => void
  /** Block bytes read and dropped: their request was given up after it was sent. */
  onDiscarded?: (bytes: number) => void
  onOutcome?: (outcome: DataConnectionOutcome) => void
  /** Plain connections: each read slab started, new or reused. */
  onSlab?: (outcome: SlabOutcome) => void
}

interface PeerState {
  connection?: DataConnection
  opening?: Promise<DataConnection | undefined>
  retryAt: number
}

/**
 * The downloader's data connections, one per peer: opened on the first block asked of a peer,
 * shared by every request to it, reopened after a cut. When a peer cannot be reached on its
 * data port or does not offer one, `get` says so (undefined) and the caller uses libp2p; the
 * next try waits a while rather than costing every block a failed dial.
 */
export class DataConnections {
  private readonly components: DataConnectionsComponents
  private readonly init: DataConnectionsInit
  private readonly log: Logger
  private readonly peers = new Map<string, PeerState>()
  private readonly lifetime = new AbortController()

  constructor (components: DataConnectionsComponents, init: DataConnectionsInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('data')
  }

  /** The open data connection to `peer`, opening it if due; undefined: use libp2p for now. */
  async get (peer: PeerId, signal: AbortSignal): Promise<DataConnection | undefined> {
    const key = peer.toString()
    let state = this.peers.get(key)
    if (state === undefined) this.peers.set(key, state = { retryAt: 0 })
    if (state.connection !== undefined && !state.connection.closed) return state.connection
    if (state.opening === undefined) {
      if (Date.now() < state.retryAt || this.lifetime.signal.aborted) return undefined
      state.opening = this.open(peer, state).finally(() => { state.opening = undefined })
    }
    const opening = state.opening
    return await new Promise<DataConnection | undefined>((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason instanceof Error ? signal.reason : new DataConnectionError('aborted')) }
      if (signal.aborted) {
        onAbort()
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      void opening.then((connection) => {
        signal.removeEventListener('abort', onAbort)
        resolve(connection)
      })
    })
  }

  stop (): void {
    this.lifetime.abort()
    for (const state of this.peers.values()) state.connection?.close()
    this.peers.clear()
  }

  private async open (peer: PeerId, state: PeerState): Promise<DataConnection | undefined> {
    const signal = AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(openTimeoutMs)])
    try {
      const libp2p = this.components.host.getConnections(peer).find(connection => connection.status === 'open') ?? await this.components.host.dial(peer, { signal })
      const host = ipOf(libp2p.remoteAddr)
      if (host === undefined) throw new DataConnectionError(`no IP address in ${libp2p.remoteAddr.toString()}`)
      const stream = await libp2p.newStream(protocols.data, { signal })
      let offer
      try {
        const bytes = wire(stream, 4096)
        await writeFrame(bytes, { encrypt: this.init.encrypt, acks: true }, signal)
        offer = await readFrame(bytes, dataOfferResponse, signal)
        await stream.close({ signal }).catch(() => {})
      } catch (error) {
        stream.abort(error instanceof Error ? error : new Error(String(error)))
        throw error
      }
      if (!offer.ok) throw new DataConnectionError(`the peer offers no data connection: ${offer.reason}`)
      const session = { token: Buffer.from(offer.token, 'base64'), secret: Buffer.from(offer.secret, 'base64') }
      const keys = deriveKeys(session, peer.toString(), this.components.host.peerId.toString())
      const cipher = this.init.cipher ?? defaultCipher
      const connection = await DataConnection.open({
        host,
        port: offer.port,
        token: session.token,
        requests: { cipher, ...(offer.encrypt ? { key: keys.request } : {}) },
        responses: { cipher, ...(offer.encrypt ? { key: keys.response } : {}) },
        acks: offer.acks === true,
        signal,
        pace: this.init.pace,
        onReceived: this.init.onReceived,
        onDiscarded: this.init.onDiscarded,
        onSlab: this.init.onSlab
      })
      connection.onClose = (error) => {
        if (state.connection === connection) state.connection = undefined
        // The next request opens a new one; if that fails, the peer waits retryAfterFailureMs.
        state.retryAt = 0
        if (!this.lifetime.signal.aborted) {
          this.init.onOutcome?.('cut')
          this.log.debug('data connection closed', { peer: peer.toString(), error })
        }
      }
      if (this.lifetime.signal.aborted) {
        connection.close()
        return undefined
      }
      state.connection = connection
      this.init.onOutcome?.('opened')
      this.log.debug('data connection open', { peer: peer.toString(), host, port: offer.port, encrypt: offer.encrypt })
      return connection
    } catch (error) {
      const unsupported = error instanceof Error && error.name === 'UnsupportedProtocolError'
      state.retryAt = Date.now() + (unsupported ? retryUnsupportedMs : retryAfterFailureMs)
      this.init.onOutcome?.(unsupported ? 'unsupported' : 'failed')
      this.log.debug('no data connection: pieces go over libp2p', { peer: peer.toString(), error })
      return undefined
    }
  }
}

/** The IP address a libp2p connection reached the peer at: its data port is there too. */
export function ipOf (address: Multiaddr): string | undefined {
  for (const component of address.getComponents()) {
    if ((component.name === 'ip4' || component.name === 'ip6') && component.value !== undefined) return component.value
  }
  return undefined
}
