/**
 * The yardstick: the fluid-model lower bound on the time to give N hosts a file (Kumar & Ross
 * 2006), T* = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)). With equal hosts Σu_i = N·u; with one slow
 * host it is that host's real upload that counts, which is the bound of every host alike.
 */
export interface BoundInit {
  /** File size, bytes. */
  size: number
  /** The origin's upload, bytes per second. */
  originUp: number
  /** Each host's upload, bytes per second, one entry per host. */
  hostUps: number[]
  /** Each host's download, bytes per second (the slowest one counts). */
  hostDown: number
}

export function lowerBoundSeconds (init: BoundInit): number {
  const hosts = init.hostUps.length
  const uploads = init.hostUps.reduce((sum, rate) => sum + rate, 0)
  return Math.max(init.size / init.originUp, init.size / init.hostDown, hosts * init.size / (init.originUp + uploads))
}
