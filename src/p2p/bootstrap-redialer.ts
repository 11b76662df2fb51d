import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logging/logger.js'
import type { P2PHost } from './host.js'

export interface BootstrapRedialerInit {
  addresses: string[]
  /** First retry delay; doubles up to maxDelayMs while a bootstrap peer stays away. @default 1000 */
  minDelayMs?: number
  /** @default 15000 */
  maxDelayMs?: number
}

/**
 * Keeps the node connected to its bootstrap peers. The stock @libp2p/bootstrap dials once,
 * so a node started before its bootstrap peer would stay alone; this one keeps trying.
 */
export class BootstrapRedialer {
  private readonly host: P2PHost
  private readonly log: Logger
  private readonly targets: Multiaddr[]
  private readonly init: BootstrapRedialerInit
  private timer?: NodeJS.Timeout
  private delay: number
  private readonly stopper = new AbortController()

  constructor (components: { host: P2PHost, logger: Logger }, init: BootstrapRedialerInit) {
    this.host = components.host
    this.log = components.logger.forComponent('p2p:bootstrap')
    this.init = init
    this.targets = init.addresses.map(address => multiaddr(address))
    this.delay = init.minDelayMs ?? 1000
  }

  start (): void {
    if (this.targets.length === 0) return
    void this.round()
  }

  stop (): void {
    this.stopper.abort()
    clearTimeout(this.timer)
  }

  private async round (): Promise<void> {
    const connected = new Set(this.host.getConnections().map(connection => connection.remotePeer.toString()))
    let missing = 0
    await Promise.all(this.targets.map(async (target) => {
      const peer = peerIdOf(target)
      if (peer !== undefined && (connected.has(peer) || peer === this.host.peerId.toString())) return
      missing++
      try {
        await this.host.dial(target, { signal: AbortSignal.any([this.stopper.signal, AbortSignal.timeout(5000)]) })
        this.log.info('connected to bootstrap peer', { address: target.toString() })
      } catch (error) {
        this.log.debug('bootstrap peer not reachable yet', { address: target.toString(), error })
      }
    }))
    if (this.stopper.signal.aborted) return
    this.delay = missing === 0 ? (this.init.minDelayMs ?? 1000) * 5 : Math.min(this.delay * 2, this.init.maxDelayMs ?? 15000)
    this.timer = setTimeout(() => { void this.round() }, missing === 0 ? (this.init.maxDelayMs ?? 15000) : this.delay)
    this.timer.unref()
  }
}

function peerIdOf (address: Multiaddr): string | undefined {
  const component = address.getComponents().find(part => part.name === 'p2p')
  return component?.value
}
