import type { WireVersion } from './wire-versions.js'

/** Our request/response protocols; each is served under the id of every wire version spoken. */
export type ProtocolName = 'meta' | 'piece' | 'fetch'

/** `/damselfly/<name>/<version>`: multistream-select matches ids exactly. */
export function protocolId (name: ProtocolName, version: WireVersion): string {
  return `/damselfly/${name}/${version}`
}

/** Every protocol and topic name a Damselfly node speaks, in one place. */
export const protocols = {
  /** kad-dht under our own prefix: never the public IPFS DHT. Its messages are kad-dht's own. */
  kad: '/damselfly/kad/1.0.0',
  /** Task metadata and the holder's bitmap (newest version; all: src/p2p/wire-versions.ts). */
  meta: protocolId('meta', '1.1.0'),
  /** One block of one piece per stream. */
  piece: protocolId('piece', '1.1.0'),
  /**
   * Opens a data connection: the holder answers with its data port, a one-use token and the
   * secret the connection's record keys come from. Only 0.2.0 and later serve it; with an older
   * node negotiation fails and its pieces go over the piece protocol. The data connection
   * carries the piece protocol's newest (1.1.0) shapes.
   */
  data: '/damselfly/data/1.0.0',
  /** Ask an elected seed to fetch a task from the origin. Only seeds register it. */
  fetch: protocolId('fetch', '1.1.0')
} as const

export const topics = {
  /** Task-level announcements: a node holds (part of) a task, or no longer does. */
  tasks: '/damselfly/tasks/1',
  /** Piece-level `have` updates while a task is active. */
  task: (taskId: string): string => `/damselfly/task/1/${taskId}`
} as const
