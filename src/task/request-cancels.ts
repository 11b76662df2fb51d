/**
 * One abort switch per piece request to a peer, so that the requests that lost an endgame race
 * stop asking for blocks once the piece landed from another source (PiecePicker.completed names
 * them). Without it a losing request fetched the rest of its piece, block after block, from a
 * holder whose uplink the swarm needed.
 */
export class RequestCancels {
  private readonly byPiece = new Map<number, Map<string, AbortController>>()

  /** A request for `index` to `peer` starts: its signal aborts when `cancel` names it. Call `end` once it ended, however. */
  start (index: number, peer: string): { signal: AbortSignal, end: () => void } {
    let requests = this.byPiece.get(index)
    if (requests === undefined) this.byPiece.set(index, requests = new Map())
    const controller = new AbortController()
    requests.set(peer, controller)
    const end = (): void => {
      const current = this.byPiece.get(index)
      // A later request for the same piece to the same peer has its own switch.
      if (current?.get(peer) !== controller) return
      current.delete(peer)
      if (current.size === 0) this.byPiece.delete(index)
    }
    return { signal: controller.signal, end }
  }

  /** Aborts the requests for `index` to `peers` (those still running). */
  cancel (index: number, peers: Iterable<string>): void {
    const requests = this.byPiece.get(index)
    if (requests === undefined) return
    for (const peer of peers) requests.get(peer)?.abort()
  }
}
