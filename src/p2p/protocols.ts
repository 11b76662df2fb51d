/** Every protocol and topic name a Damselfly node speaks, in one place. */
export const protocols = {
  /** kad-dht under our own prefix: never the public IPFS DHT. */
  kad: '/damselfly/kad/1.0.0',
  /** Task metadata and the holder's bitmap. */
  meta: '/damselfly/meta/1.0.0',
  /** One block of one piece per stream. */
  piece: '/damselfly/piece/1.0.0',
  /**
   * Opens a data connection: the holder answers with its data port, a one-use token and the
   * secret the connection's record keys come from. A node without it (older) fails negotiation
   * and its pieces go over the piece protocol.
   */
  data: '/damselfly/data/1.0.0',
  /** Ask an elected seed to fetch a task from the origin. Only seeds register it. */
  fetch: '/damselfly/fetch/1.0.0'
} as const

export const topics = {
  /** Task-level announcements: a node holds (part of) a task, or no longer does. */
  tasks: '/damselfly/tasks/1',
  /** Piece-level `have` updates while a task is active. */
  task: (taskId: string): string => `/damselfly/task/1/${taskId}`
} as const
