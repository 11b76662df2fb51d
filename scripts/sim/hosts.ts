/**
 * The host model: each host's links (upload and download capacity, one-way latency), who it is
 * connected to, and when it leaves (churn). Rates are bytes per ms (1 MB/s = 1000 B/ms).
 */
export type BandwidthProfile = 'uniform' | 'mixed'

export interface HostLinks {
  up: number
  down: number
  latencyMs: number
}

/**
 * `uniform`: every host 5 MB/s up, 20 MB/s down (bench-swarm's setting).
 * `mixed`: 50 % 5/20, 30 % 2/10, 15 % 10/40, 5 % 1/5 MB/s up/down.
 * One-way latency 0.5–5 ms.
 */
export function drawLinks (profile: BandwidthProfile, random: () => number): HostLinks {
  const latencyMs = 0.5 + 4.5 * random()
  if (profile === 'uniform') return { up: 5000, down: 20_000, latencyMs }
  const draw = random()
  if (draw < 0.5) return { up: 5000, down: 20_000, latencyMs }
  if (draw < 0.8) return { up: 2000, down: 10_000, latencyMs }
  if (draw < 0.95) return { up: 10_000, down: 40_000, latencyMs }
  return { up: 1000, down: 5000, latencyMs }
}

/**
 * A random symmetric graph: every host dials `degree / 2` distinct random others; the seed pool
 * (hosts 0..seeds-1) are dialled by `seedDegree` random hosts each and by each other, as the
 * bootstrap nodes everyone meets first.
 */
export function connect (hosts: number, degree: number, seeds: number, seedDegree: number, random: () => number): Array<Set<number>> {
  const neighbours = Array.from({ length: hosts }, () => new Set<number>())
  const link = (a: number, b: number): void => {
    if (a === b) return
    neighbours[a]!.add(b)
    neighbours[b]!.add(a)
  }
  const dials = Math.max(1, Math.floor(degree / 2))
  for (let host = 0; host < hosts; host++) {
    for (let dial = 0; dial < Math.min(dials, hosts - 1); dial++) link(host, Math.floor(random() * hosts))
  }
  for (let seed = 0; seed < Math.min(seeds, hosts); seed++) {
    for (let other = 0; other < Math.min(seeds, hosts); other++) link(seed, other)
    for (let dial = 0; dial < Math.min(seedDegree, hosts - 1); dial++) link(seed, Math.floor(random() * hosts))
  }
  return neighbours
}
