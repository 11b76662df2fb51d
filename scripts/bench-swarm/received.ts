/** What the hosts of a swarm round received for one file, from its trace (upload-trace.ts). */
import { median, round } from '../lib/stats.js'
import type { HostSeries } from './upload-trace.js'

/**
 * Bytes received per host ÷ the file (swarm rounds). A host needs the file once; what its link
 * carried beyond that is duplicate pieces, pieces cut off and refetched, and protocol overhead
 * (TCP/IP, libp2p, gossip: a few percent). The node's own count of the piece bytes it received
 * to no use (damselfly_peer_bytes_wasted_total) says how much of it was pieces.
 */
export interface RoundReceived {
  /** Bytes each host's link carried down by the end of the round ÷ the file; null for a killed host. */
  perFile: Array<number | null>
  medianPerFile: number | null
  maxPerFile: number | null
  /** Piece bytes each node received from peers to no use, by the end of the round; null: a trace written before the counter. */
  wastedBytes: number[] | null
  /** Their sum, all hosts. */
  wastedTotal: number | null
  /** wastedTotal ÷ the file. */
  wastedPerFile: number | null
}

export function receivedFigures (series: HostSeries[], size: number, killedHost?: number): RoundReceived {
  const perFile = series.map((samples, index) => {
    const last = samples.at(-1)
    return index === killedHost || last === undefined ? null : round(last[5] / size, 3)
  })
  const known = perFile.filter((value): value is number => value !== null)
  const counted = series.some(samples => samples.some(sample => sample[6] !== undefined))
  const wastedBytes = counted ? series.map(samples => samples.at(-1)?.[6] ?? 0) : null
  const wastedTotal = wastedBytes === null ? null : wastedBytes.reduce((sum, bytes) => sum + bytes, 0)
  return {
    perFile,
    medianPerFile: known.length === 0 ? null : median(known),
    maxPerFile: known.length === 0 ? null : Math.max(...known),
    wastedBytes,
    wastedTotal,
    wastedPerFile: wastedTotal === null ? null : round(wastedTotal / size, 3)
  }
}
