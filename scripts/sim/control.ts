/**
 * Control-message accounting: what the p2p layer would send, counted as messages sent per node,
 * from how src/p2p does it today (see docs/scale.md for the derivation):
 *
 * - gossipsub (src/p2p/host.ts: js-libp2p defaults D = 6, D_lazy = 6, heartbeat 1 s): a message
 *   published on a topic is forwarded once by every subscriber to its D mesh peers, so one
 *   publish costs `subscribers × D` sends network-wide; each node also sends IHAVE to D_lazy
 *   peers per heartbeat while the topic carries messages.
 * - kad-dht (k = 20, α = 3): a lookup walks about log2(N) hops of α requests, each answered;
 *   a provide is a lookup plus k ADD_PROVIDER messages.
 * - the meta protocol: one request and one answer per peer asked; a refused piece request
 *   (`busy`, admitUpload) counts as one request and one answer too.
 * The simulator does not deliver these messages hop by hop: it charges their cost and applies
 * their effect (a `have` reaching a neighbour) after the modelled delay.
 */
export const gossipD = 6
export const gossipDLazy = 6
export const dhtK = 20
export const dhtAlpha = 3

export type ControlKind = 'have' | 'meta' | 'busy' | 'dht-lookup' | 'dht-provide' | 'task-gossip' | 'ihave'

export class ControlLedger {
  readonly sent: Record<ControlKind, number> = { have: 0, meta: 0, busy: 0, 'dht-lookup': 0, 'dht-provide': 0, 'task-gossip': 0, ihave: 0 }

  /** One publish on a topic with `subscribers` nodes. */
  gossip (kind: ControlKind, subscribers: number): void {
    this.sent[kind] += subscribers * gossipD
  }

  /** `count` point-to-point messages (each answered when `answered`). */
  direct (kind: ControlKind, count: number, answered = false): void {
    this.sent[kind] += answered ? 2 * count : count
  }

  dhtLookup (nodes: number): void {
    this.sent['dht-lookup'] += lookupMessages(nodes)
  }

  dhtProvide (nodes: number): void {
    this.sent['dht-provide'] += lookupMessages(nodes) + 2 * dhtK
  }

  get total (): number {
    return Object.values(this.sent).reduce((sum, count) => sum + count, 0)
  }
}

/** Requests and answers of one Kademlia lookup among `nodes`. */
export function lookupMessages (nodes: number): number {
  return 2 * dhtAlpha * Math.max(1, Math.ceil(Math.log2(Math.max(2, nodes))))
}
