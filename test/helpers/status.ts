/** The parts of a node's /api/status the tests read. */
export interface NodeStatus {
  node: { peerId: string }
  peers: string[]
  bannedPeers: string[]
  peerScores: Array<{ peerId: string, reliability: number, failures: Record<string, number> }>
  uploadedBytes: number
  tasks: Array<{ id: string, status: string, held: number, pieces: number, bytesFromOrigin: number, bytesFromPeers: number, verified: boolean, private: boolean }>
}

export async function nodeStatus (admin: string): Promise<NodeStatus> {
  const response = await fetch(`http://${admin}/api/status`)
  return await response.json() as NodeStatus
}
