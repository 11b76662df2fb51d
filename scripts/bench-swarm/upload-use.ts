/** How much of the upload there was a swarm round used, from its trace (upload-trace.ts). */
import { round } from '../lib/stats.js'
import { valueAt, type HostSeries } from './upload-trace.js'

/**
 * How much of its link each host used to upload (swarm rounds), counted two ways: the piece
 * bytes its node served (damselfly_upload_bytes_total, counted when a piece or block is handed
 * over, so lumpy) and the bytes its link carried up (the kernel's count: every byte on the wire).
 */
export interface RoundUpload {
  /** Bytes each host's node had uploaded when the round ended. */
  bytes: number[]
  /** Bytes uploaded by the time its own client finished ÷ (its u × that time); null for a host killed or unfinished. */
  use: Array<number | null>
  meanUse: number | null
  /** The same from the link's count. */
  linkUse: Array<number | null>
  meanLinkUse: number | null
  /** (Σ host uploads + origin bytes) ÷ ((u_s + Σ u) × the last counted host's time): the swarm's use of all upload there was. */
  swarmUse: number | null
  /** The same from the links' counts (the hosts' and the origin's). */
  swarmLinkUse: number | null
}

export interface UploadUseInit {
  series: HostSeries[]
  hostSeconds: Array<number | null>
  hostUps: number[]
  lastHostSeconds: number | null
  originBytes: number
  originLinkBytes: number
  originUp: number
  killedHost: number | undefined
}

/** Each host's upload use, from its series (see RoundUpload). */
export function uploadUse (init: UploadUseInit): RoundUpload {
  const { series, hostSeconds, hostUps, lastHostSeconds } = init
  const uses = (column: 1 | 4): Array<number | null> => series.map((samples, index) => {
    const seconds = hostSeconds[index]
    if (seconds === null || seconds === undefined || index === init.killedHost || seconds <= 0) return null
    return round(valueAt(samples, seconds, column) / (hostUps[index]! * seconds), 3)
  })
  const mean = (values: Array<number | null>): number | null => {
    const known = values.filter(value => value !== null)
    return known.length === 0 ? null : round(known.reduce((sum, value) => sum + value, 0) / known.length, 3)
  }
  const capacity = init.originUp + hostUps.reduce((sum, rate) => sum + rate, 0)
  const swarm = (hostBytes: number, originBytes: number): number | null => lastHostSeconds === null ? null : round((hostBytes + originBytes) / (capacity * lastHostSeconds), 3)
  // Up to the last counted host's finish: what the links carried after it is not the round's.
  const sumAt = (column: 1 | 4): number => lastHostSeconds === null ? 0 : series.reduce((sum, samples) => sum + valueAt(samples, lastHostSeconds, column), 0)
  const use = uses(1)
  const linkUse = uses(4)
  return {
    bytes: series.map(samples => samples.at(-1)?.[1] ?? 0),
    use,
    meanUse: mean(use),
    linkUse,
    meanLinkUse: mean(linkUse),
    swarmUse: swarm(sumAt(1), init.originBytes),
    swarmLinkUse: swarm(sumAt(4), init.originLinkBytes)
  }
}
