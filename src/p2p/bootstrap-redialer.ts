import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logging/logger.js'
import { resolveBootstrapNames, systemResolver, type DnsBootstrapName, type ResolveAddresses } from './dns-bootstrap.js'
import type { P2PHost } from './host.js'

export interface BootstrapRedialerComponents {
  host: P2PHost
  logger: Logger
  /** How names are looked up. @default the system resolver */
  resolve?: ResolveAddresses
}

export interface BootstrapRedialerInit {
  addresses: string[]
  /** Names resolved again every round; each address found is dialled without a peer id. @default [] */
  names?: DnsBootstrapName[]
  /** First retry delay; doubles up to maxDelayMs while a bootstrap peer stays away. @default 1000 */
  minDelayMs?: number
  /** @default 15000 */
  maxDelayMs?: number
}

/**
 * Keeps the node connected to its bootstrap peers. The stock @libp2p/bootstrap dials once,
 * so a node started before its bootstrap peer would stay alone; this one keeps trying. DNS
 * names are looked up again every round, so seeds that come and go behind a headless Service
 * are found without restarting anything.
 */
export class BootstrapRedialer {
  private readonly host: P2PHost
  private readonly log: Logger
  private readonly targets: Multiaddr[]
  private readonly init: BootstrapRedialerInit
  private readonly resolve: ResolveAddresses
  /** Who answered at an address found through DNS, so a connected one is not dialled again. */
  private readonly peerAt = new Map<string, string>()
  private timer?: NodeJS.Timeout
  private delay: number
  private readonly stopper = new AbortController()

  constructor (components: BootstrapRedialerComponents, init: BootstrapRedialerInit) {
    this.host = components.host
    this.log = components.logger.forComponent('p2p:bootstrap')
    this.resolve = components.resolve ?? systemResolver
    this.init = init
    this.targets = init.addresses.map(address => multiaddr(address))
    this.delay = init.minDelayMs ?? 1000
  }

  start (): void {
    if (this.targets.length === 0 && (this.init.names ?? []).length === 0) return
    void this.round()
  }

  stop (): void {
    this.stopper.abort()
    clearTimeout(this.timer)
  }

  private async round (): Promise<void> {
    const connected = new Set(this.host.getConnections().map(connection => connection.remotePeer.toString()))
    const self = this.host.peerId.toString()
    const resolved = await this.resolveNames()
    let missing = resolved.missingName ? 1 : 0
    await Promise.all([...this.targets, ...resolved.addresses].map(async (target) => {
      const peer = peerIdOf(target) ?? this.peerAt.get(target.toString())
      if (peer !== undefined && (connected.has(peer) || peer === self)) return
      missing++
      try {
        const connection = await this.host.dial(target, { signal: AbortSignal.any([this.stopper.signal, AbortSignal.timeout(5000)]) })
        this.peerAt.set(target.toString(), connection.remotePeer.toString())
        this.log.info('connected to bootstrap peer', { address: target.toString(), peer: connection.remotePeer.toString() })
      } catch (error) {
        this.log.debug('bootstrap peer not reachable yet', { address: target.toString(), error })
      }
    }))
    if (this.stopper.signal.aborted) return
    this.delay = missing === 0 ? (this.init.minDelayMs ?? 1000) * 5 : Math.min(this.delay * 2, this.init.maxDelayMs ?? 15000)
    this.timer = setTimeout(() => { void this.round() }, missing === 0 ? (this.init.maxDelayMs ?? 15000) : this.delay)
    this.timer.unref()
  }

  /** This round's addresses behind the names, without our own (a seed finds itself behind its Service). */
  private async resolveNames (): Promise<{ addresses: Multiaddr[], missingName: boolean }> {
    const names = this.init.names ?? []
    if (names.length === 0) return { addresses: [], missingName: false }
    let addresses: Multiaddr[]
    try {
      addresses = await resolveBootstrapNames(names, this.resolve, AbortSignal.any([this.stopper.signal, AbortSignal.timeout(5000)]))
    } catch (error) {
      this.log.debug('bootstrap names did not resolve', { names: names.map(name => name.host), error })
      return { addresses: [], missingName: true }
    }
    const own = new Set(this.host.getMultiaddrs().map(address => withoutPeerId(address)))
    const others = addresses.filter(address => !own.has(address.toString()))
    this.log.debug('bootstrap names resolved', { names: names.map(name => name.host), addresses: others.map(address => address.toString()) })
    return { addresses: others, missingName: others.length === 0 }
  }
}

function withoutPeerId (address: Multiaddr): string {
  return address.toString().replace(/\/p2p\/[^/]+$/, '')
}

function peerIdOf (address: Multiaddr): string | undefined {
  const component = address.getComponents().find(part => part.name === 'p2p')
  return component?.value
}
