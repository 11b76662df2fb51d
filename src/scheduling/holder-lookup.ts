/**
 * Whether a search for a task's holders should ask the DHT too, after asking every connected
 * peer directly (Swarm.findHolders).
 *
 * A DHT lookup starts from the peers in this node's routing table and learns of others only
 * from their answers. A holder's provide stores its record on the k peers closest to the key
 * that the holder can find: while the DHT has fewer than k peers in all, that is every peer the
 * holder knows. So when this node's table is below k, holds no more peers than the connected
 * DHT peers just asked, and the neighbourhood rounds stopped meeting anyone new (the view is
 * not still growing, as a joining node's is), a lookup could only name a holder nobody has
 * introduced to this node yet. Skipping it then costs at worst a cold start for a task someone
 * holds: more origin bytes, never wrong ones. It saves a lookup on every cold start, which in
 * an 8-node swarm was most of the start's CPU (a stream to every peer and a peer-store write
 * per peer in each answer, on every node at once): with it the direct round took 0.7–1.0 s of
 * the 1.1–1.3 s before the origin's first byte, without it 0.15–0.33 s.
 *
 * Counts stand in for the sets (the DHT says only its table's size): a table peer that is not
 * connected makes the table larger than the peers asked, and the lookup runs.
 */
export interface HolderLookupView {
  /** Peers in the DHT routing table. */
  routingTableSize: number
  /** The DHT's bucket size k (peers a provide stores its record on). */
  bucketSize: number
  /** Connected peers that speak the DHT protocol, every one of them asked directly. */
  askedDhtPeers: number
  /** The last neighbourhood round met no peer this node did not know (DiscoverySchedule.settled). */
  settled: boolean
}

export function dhtMayNameMoreHolders (view: HolderLookupView): boolean {
  if (!view.settled) return true
  if (view.routingTableSize >= view.bucketSize) return true
  return view.routingTableSize > view.askedDhtPeers
}
