/**
 * The upload trace of a swarm round: one sampler process (sampler.ts) in the router namespace
 * reads every node's byte counters over the management network, and this side keeps the series,
 * answers "how much have the nodes got so far" (for --kill-half), and turns the series into each
 * host's upload use.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { repoRoot } from '../../test/helpers/repo-root.js'
import type { NetnsHost } from '../lib/netns.js'
import { treeCpuSeconds } from '../lib/proc.js'
import type { SamplerLine } from './sampler.js'

export interface TraceResult {
  series: HostSeries[]
  /** The origin's link: [seconds, bytes it sent] per sample. */
  origin: Array<[seconds: number, up: number]>
  samplerCpuSeconds: number
}

/**
 * One host's series, a row per sample: seconds since the round's start; its node's counters
 * (bytes uploaded to peers, task bytes from peers, from the origin; a node that stopped
 * answering keeps its last values); the bytes its link carried up and down (the wire); the
 * piece bytes its node received from peers to no use (damselfly_peer_bytes_wasted_total; absent
 * in reports written before it).
 */
export type HostSeries = Array<[seconds: number, upload: number, peer: number, origin: number, linkUp: number, linkDown: number, wasted?: number]>

/** The columns of a HostSeries row, for the JSON. */
export const seriesColumns = ['seconds', 'upload', 'peer', 'origin', 'linkUp', 'linkDown', 'wasted'] as const

export interface UploadTrace {
  /** Asks for a sample now (e.g. the moment a client finished). */
  tick: () => void
  /** Called with every sample as it arrives. */
  onSample: (listener: (line: SamplerLine) => void) => void
  /** Sets the round's start (epoch ms): sample times are seconds from it. */
  startAt: (epochMs: number) => void
  /**
   * Takes a last sample (more, every 100 ms for up to 10 s, until `settled` holds for one: the
   * nodes count task bytes at their next checkpoint, a moment after the client has them),
   * stops the sampler and returns each host's series and the sampler's CPU seconds since startAt.
   */
  stop: (settled?: (line: SamplerLine) => boolean) => Promise<TraceResult>
}

export interface UploadTraceInit {
  router: NetnsHost
  /** Each node's /metrics URL on the management network, in host order. */
  urls: string[]
  /** The router's end of each host's link, in host order (NetnsHost.routerLink). */
  links: string[]
  /** The router's end of the origin's link. */
  originLink: string
  intervalMs: number
  /** Where the sampler's process goes, so that a signal handler can kill it. */
  children: Set<ChildProcess>
}

export async function startUploadTrace (init: UploadTraceInit): Promise<UploadTrace> {
  const [command, ...args] = [...init.router.exec, process.execPath, join(repoRoot(), 'dist', 'scripts', 'bench-swarm', 'sampler.js'), '--interval-ms', String(init.intervalMs), '--links', [...init.links, init.originLink].join(','), ...init.urls]
  const child = spawn(command!, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: SamplerLine[] = []
  const listeners: Array<(line: SamplerLine) => void> = []
  const waiters: Array<() => void> = []
  // A sampler that died mid-round must not take the benchmark with it: its series just end.
  child.stdin!.on('error', () => {})
  init.children.add(child)
  let alive = true
  const exited = new Promise<void>(resolve => child.on('exit', () => {
    alive = false
    init.children.delete(child)
    for (const wake of waiters.splice(0)) wake()
    resolve()
  }))
  let start = Date.now()
  let cpuAtStart: Promise<number> = Promise.resolve(0)
  const reader = createInterface({ input: child.stdout! })
  reader.on('line', text => {
    const line = JSON.parse(text) as SamplerLine
    lines.push(line)
    for (const listener of listeners) listener(line)
    for (const wake of waiters.splice(0)) wake()
  })
  // The first sample proves the sampler reaches every node.
  await new Promise<void>(resolve => waiters.push(resolve))
  if (lines.length === 0) throw new Error(`the upload sampler exited with ${child.exitCode ?? child.signalCode}`)
  const unreachable = lines[0]!.hosts.flatMap((value, index) => value === null ? [index] : [])
  if (unreachable.length > 0) {
    child.kill('SIGKILL')
    throw new Error(`the upload sampler cannot read host(s) ${unreachable.join(', ')}: ${init.urls.join(' ')}`)
  }
  const tick = (): void => { if (alive) child.stdin!.write('\n') }
  let stopped: Promise<TraceResult> | undefined
  return {
    tick,
    onSample: listener => { listeners.push(listener) },
    startAt: epochMs => {
      start = epochMs
      cpuAtStart = treeCpuSeconds(child.pid!)
    },
    stop: async settled => {
      stopped ??= finish(settled)
      return await stopped
    }
  }

  async function finish (settled?: (line: SamplerLine) => boolean): Promise<TraceResult> {
    const until = Date.now() + 10_000
    for (let first = true; alive && (first || (settled !== undefined && !settled(lines.at(-1)!) && Date.now() < until)); first = false) {
      if (!first) await sleep(100)
      const next = new Promise<void>(resolve => waiters.push(resolve))
      tick()
      await next
    }
    const samplerCpuSeconds = alive ? await treeCpuSeconds(child.pid!) - await cpuAtStart : NaN
    child.stdin!.end()
    await exited
    const series: HostSeries[] = init.urls.map(() => [])
    const origin: TraceResult['origin'] = []
    // The last sample before the start stands for the start (the counters of fresh nodes); the
    // links' counters run since the testbed was made, so they count from that sample's.
    const first = Math.max(0, lines.findIndex(line => line.at >= start) - 1)
    const base = lines[first]?.links ?? []
    for (const line of lines.slice(first)) {
      const seconds = Math.round(Math.max(line.at, start) - start) / 1000
      line.hosts.forEach((value, index) => {
        const before = series[index]!.at(-1)
        const node = value ?? (before === undefined ? [0, 0, 0, 0] : [before[1], before[2], before[3], before[6] ?? 0])
        const link = line.links[index]
        const carried = link === null || link === undefined ? (before === undefined ? [0, 0] : [before[4], before[5]]) : [link[0] - (base[index]?.[0] ?? 0), link[1] - (base[index]?.[1] ?? 0)]
        series[index]!.push([seconds, node[0]!, node[1]!, node[2]!, carried[0]!, carried[1]!, node[3] ?? 0])
      })
      // The router's end receives what the origin sends.
      const sent = line.links[init.urls.length]?.[0]
      if (sent !== undefined) origin.push([seconds, sent - (base[init.urls.length]?.[0] ?? 0)])
    }
    return { series, origin, samplerCpuSeconds }
  }
}

/**
 * A counter's value at `seconds`, linear between the samples around it (the last sample's value
 * past the end, 0 before the first).
 */
export function valueAt (series: HostSeries, seconds: number, column: 1 | 2 | 3 | 4 | 5 | 6): number {
  let before: HostSeries[number] | undefined
  for (const sample of series) {
    if (sample[0] >= seconds) {
      if (before === undefined || sample[0] === before[0]) return sample[column] ?? 0
      const share = (seconds - before[0]) / (sample[0] - before[0])
      return (before[column] ?? 0) + share * ((sample[column] ?? 0) - (before[column] ?? 0))
    }
    before = sample
  }
  return before?.[column] ?? 0
}
