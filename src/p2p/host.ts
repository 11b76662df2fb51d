import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { kadDHT, removePublicAddressesMapper, type SingleKadDHT } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { fastMessageId } from './gossip-message-id.js'
import { pskProtector } from './psk/index.js'
import { protocols } from './protocols.js'

/**
 * How often libp2p's connection monitor pings each connection (its default is 10 s). Each ping
 * is a new stream on both ends (protocol negotiation, a peer-store write), two per connection
 * per interval: in a full mesh of 50 nodes that was 10 streams a second per idle node, the
 * largest part of its idle CPU. A peer that vanishes without closing its connection is dropped
 * after about this long; a process that dies has its sockets closed by the kernel at once, and
 * block requests to a silent peer time out on their own (docs/scale.md, "Knobs").
 */
export const connectionPingIntervalMs = 60_000

/** Room for several 4 MiB blocks: measured +20 % over smaller windows (docs/p2p-throughput.md). */
const streamWindowBytes = 16 * 1024 * 1024

export interface P2PHostInit {
  privateKey: PrivateKey
  listen: string[]
  /** Private network key file contents: peers without the same key cannot connect. */
  psk?: Uint8Array
  /** How long a provider record stays valid. Minutes, not js-libp2p's 48 hours. @default 600 */
  provideValiditySeconds?: number
}

export type P2PHost = Libp2p<{ dht: SingleKadDHT, pubsub: ReturnType<ReturnType<typeof gossipsub>>, identify: unknown, ping: unknown }>

/**
 * The libp2p node inside every Damselfly process: TCP, noise, yamux, identify, ping, kad-dht
 * under a private prefix in server mode with LAN addresses kept, gossipsub, optional PSK.
 */
export async function createP2PHost (init: P2PHostInit): Promise<P2PHost> {
  const validity = init.provideValiditySeconds ?? 600
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // A fresh yamux stream may only carry 256 KiB before the receiver's window update comes
    // back: with one stream per block that capped a stream at ~8 MB/s. Every Damselfly node
    // opens streams with a window that holds a whole block, so a block flows without a stop.
    streamMuxers: [yamux({ streamOptions: { initialStreamWindowSize: streamWindowBytes, maxStreamWindowSize: 2 * streamWindowBytes } })],
    ...(init.psk === undefined ? {} : { connectionProtector: pskProtector({ psk: init.psk }) }),
    connectionManager: { maxConnections: 500 },
    connectionMonitor: { pingInterval: connectionPingIntervalMs },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: protocols.kad,
        clientMode: false,
        // Cluster hosts have private addresses; the default mapper would drop them all.
        peerInfoMapper: removePublicAddressesMapper,
        allowQueryWithZeroPeers: true,
        providers: { provideValidity: validity, cleanupInterval: Math.max(30, Math.floor(validity / 4)) },
        reprovide: { validity: validity * 1000, threshold: Math.floor(validity * 500), interval: Math.floor(validity * 250) }
      }),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, fastMsgIdFn: fastMessageId })
    }
  }) as unknown as P2PHost
}
