/**
 * One round: every host's client starts at the same moment (through its node in a swarm round,
 * straight to the origin in a direct one) and the round ends when the last one has the file or
 * the round times out. Measured beside the times: the origin's bytes, each node's peak RSS, the
 * CPU every process used in the round, and (swarm) each node's byte counters over time.
 */
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import type { NodeProcess } from '../../test/helpers/nodes.js'
import type { FakeHubInfo } from '../lib/fake-hub-process.js'
import { setHostUp, type NetnsHost } from '../lib/netns.js'
import { machineCpuSeconds, peakRssBytes, reapedChildrenCpuSeconds, treeCpuSeconds } from '../lib/proc.js'
import { round } from '../lib/stats.js'
import { timedCurl } from '../lib/timed-curl.js'
import { electForColdTask } from '../../src/scheduling/rendezvous.js'
import { lowerBoundSeconds } from './bound.js'
import { startMachineBusy } from './machine-busy.js'
import { adminPort, nsJson, startNodes } from './nodes.js'
import type { Mode, Settings } from './options.js'
import { sampledMetricsQuery } from './sampler.js'
import { seriesColumns, startUploadTrace, type HostSeries, type TraceResult, type UploadTrace } from './upload-trace.js'
import { uploadUse, type RoundUpload } from './upload-use.js'
import { receivedFigures, type RoundReceived } from './received.js'

const MB = 1e6

/** CPU the round used, from the clients' common start to the end of the round. */
export interface RoundCpu {
  wallSeconds: number
  cores: number
  /** user + sys seconds of each host's node process tree (swarm rounds). */
  nodeSeconds: number[]
  nodeTotalSeconds: number
  /** nodeTotalSeconds ÷ (wall × cores): the share of the machine the nodes used. */
  nodeShareOfMachine: number
  /** The fake Hub + CDN process. */
  originSeconds: number
  /** The curl clients. */
  clientSeconds: number
  /** The upload sampler (swarm rounds; not a part of the system measured). */
  samplerSeconds: number
  /** Busy ÷ total CPU time of the whole machine over the round, whoever used it (/proc/stat). */
  machineBusyShare: number
  /**
   * The same over each `--sample-ms` interval of the round, and the share of intervals that were
   * saturated (≥ 90 % busy): where that share is not near 0, the CPU bound part of the round,
   * whatever the average says (machine-busy.ts). Absent in reports written before it.
   */
  machineBusyIntervals?: number[]
  machineSaturatedShare?: number
}

export interface RoundResult {
  mode: Mode
  hosts: number
  /** 1…K for --runs K. */
  run: number
  /** Each host's upload, bytes per second (one is slow with --slow-host). */
  hostUps: number[]
  /** T* with the hosts' real uploads. */
  lowerBoundSeconds: number
  /** The host whose upload was --slow-host-up, if any. */
  slowHost: number | null
  /**
   * The node SIGKILLed with --kill-half: when, what share of the N copies the nodes held then, and
   * whether it was an elected seed (what it fetched from the origin and had not passed on is
   * fetched again: the origin's overshoot in this round comes from such kills).
   */
  killed: { host: number, atSeconds: number, heldShare: number, elected: boolean } | null
  /** Seconds from the common start until each host's client had the whole file; null: killed, or not within the timeout. */
  hostSeconds: Array<number | null>
  /** The hosts whose times make the figure: all but a slow host and a killed one. */
  countedHosts: number[]
  /** The slowest counted host ÷ T*: "last host ÷ T*", with --slow-host "each other host ÷ its own bound". Null if one did not finish. */
  overBound: number | null
  /** The slowest counted host's time; null when one did not finish. */
  lastHostSeconds: number | null
  /** Hosts that did not finish, a killed one not counted. */
  unfinishedHosts: number
  originBytes: number
  originBytesPerFile: number
  /** Every copy that finished had the file's sha256. */
  byteExact: boolean
  /** Peak RSS (VmHWM) of each node process, MB (swarm rounds). */
  peakRssMB: number[]
  cpu: RoundCpu
  upload: RoundUpload | null
  /** What each host received ÷ the file, and the piece bytes wasted (swarm rounds; absent in reports written before it). */
  received?: RoundReceived | null
  /** Each host's counters over the round (swarm), and the origin link's (upload-trace.ts). */
  trace: { columns: typeof seriesColumns, hosts: HostSeries[], origin: TraceResult['origin'] } | null
}

export interface RoundInit {
  mode: Mode
  run: number
  hosts: NetnsHost[]
  origin: NetnsHost
  originProcess: ChildProcess
  router: NetnsHost
  info: FakeHubInfo
  settings: Settings
  outDir: string
  adminTokenFile: string
  children: Set<ChildProcess>
  nodeDirs: Set<string>
  signal: AbortSignal
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 2 ** 20 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Each host's upload this round; with --slow-host host `slow`'s is the slow one, and the links are set so. */
async function setUploads (hosts: NetnsHost[], settings: Settings, slow: number | null): Promise<number[]> {
  const ups = hosts.map((_, index) => index === slow ? settings.slowHostUp! : settings.hostUp)
  // The testbed is shared by every N: a host slow in one round is set back in the next.
  if (settings.slowHostUp !== undefined) await Promise.all(hosts.map(async (host, index) => { await setHostUp(host, ups[index]!) }))
  return ups
}

/**
 * The hosts elected to fetch the file from the origin, as every node elects them (rendezvous.ts;
 * all nodes are seeds and, once started, see each other).
 */
function electedHosts (nodes: NodeProcess[], sha256: string): number[] {
  const ids = nodes.map(node => node.info.peerId)
  return electForColdTask(`sha256:${sha256}`, ids).map(id => ids.indexOf(id))
}

/** A node --kill-half killed, with its CPU and peak RSS read just before. */
interface Kill {
  host: number
  atSeconds: number
  heldShare: number
  cpuSeconds: Promise<number>
  peakRssMB: Promise<number>
}

/**
 * --kill-half: once the nodes together hold half of the N copies, SIGKILL the node (not the
 * bootstrap one, host 0, and not one whose client has finished) that has uploaded the most so
 * far, the one whose loss hurts the swarm most; with `among` (--kill-seed), one of those hosts.
 */
function armKill (trace: UploadTrace, nodes: NodeProcess[], size: number, finished: Array<number | null>, started: () => number,
  among: number[] | undefined, onKill: (kill: Kill) => void): void {
  let done = false
  trace.onSample(line => {
    if (done) return
    const held = line.hosts.reduce((sum, value) => sum + (value === null ? 0 : value[1] + value[2]), 0)
    if (held < nodes.length * size / 2) return
    const candidates = nodes.map((_, index) => index).filter(index => index > 0 && finished[index] === null && line.hosts[index] !== null && (among === undefined || among.includes(index)))
    if (candidates.length === 0) return
    done = true
    const host = candidates.reduce((best, index) => line.hosts[index]![0] >= line.hosts[best]![0] ? index : best)
    const pid = nodes[host]!.child.pid!
    // Read before the kill: the process's CPU and peak RSS go with it.
    const cpuSeconds = treeCpuSeconds(pid)
    const peakRssMB = peakRssBytes(pid).then(bytes => round(bytes / MB))
    void Promise.all([cpuSeconds, peakRssMB]).finally(() => nodes[host]!.child.kill('SIGKILL'))
    onKill({ host, atSeconds: round((performance.now() - started()) / 1000, 3), heldShare: round(held / (nodes.length * size), 3), cpuSeconds, peakRssMB })
  })
}

export async function runRound (init: RoundInit): Promise<RoundResult> {
  const { mode, hosts, settings, signal } = init
  const { size } = settings
  const nodes = mode === 'swarm' ? await startNodes({ hosts, originAddress: init.origin.address, adminTokenFile: init.adminTokenFile, nodeDirs: init.nodeDirs }) : []
  const file = init.info.files[0]!
  const elected = electedHosts(nodes, file.sha256)
  // --slow-elected: the first seed elected after host 0 (the bootstrap node); none in direct rounds.
  const electedSlow = elected.find(index => index > 0) ?? elected[0]
  const slowHost = settings.slowHostUp === undefined ? null : settings.slowElected && electedSlow !== undefined ? electedSlow : hosts.length - 1
  const hostUps = await setUploads(hosts, settings, slowHost)
  const bound = lowerBoundSeconds({ size, originUp: settings.originUp, hostUps, hostDown: settings.hostDown })
  let trace: UploadTrace | undefined
  try {
    trace = mode === 'swarm'
      ? await startUploadTrace({ router: init.router, urls: hosts.map(host => `http://${host.managementAddress}:${adminPort}/metrics?${sampledMetricsQuery}`), links: hosts.map(host => host.routerLink), originLink: init.origin.routerLink, intervalMs: settings.sampleMs, children: init.children })
      : undefined
    await nsJson(init.origin, `${init.info.statsUrl}/reset`, 'POST')
    const hostSeconds: Array<number | null> = hosts.map(() => null)
    let killed: Kill | null = null
    let started = performance.now()
    if (trace !== undefined && settings.killHalf) armKill(trace, nodes, size, hostSeconds, () => started, settings.killSeed ? elected : undefined, kill => { killed = kill })
    const cpuAtStart = await Promise.all([
      Promise.all(nodes.map(async node => await treeCpuSeconds(node.child.pid!))),
      treeCpuSeconds(init.originProcess.pid!),
      reapedChildrenCpuSeconds(),
      machineCpuSeconds()
    ])
    started = performance.now()
    const machineBusy = startMachineBusy(settings.sampleMs)
    trace?.startAt(Date.now())
    const outputs = hosts.map((_, index) => join(init.outDir, `${mode}-${hosts.length}-${index}.bin`))
    // A plain controller and timer: Node 20's AbortSignal.any/timeout pair did not fire here.
    const roundStop = new AbortController()
    const deadline = roundStop.signal
    const onStop = (): void => { roundStop.abort() }
    signal.addEventListener('abort', onStop, { once: true })
    const timer = setTimeout(onStop, settings.timeoutSeconds * 1000)
    await Promise.all(hosts.map(async (host, index) => {
      try {
        const timing = await timedCurl(file.resolveUrl, {
          prefix: host.exec,
          follow: true,
          output: outputs[index],
          signal: deadline,
          ...(mode === 'swarm' ? { proxy: nodes[index]!.proxyUrl } : {})
        })
        if (timing.status !== 200 || timing.bytes !== size) throw new Error(`host ${index}: status ${timing.status}, ${timing.bytes} bytes`)
        hostSeconds[index] = (performance.now() - started) / 1000
        trace?.tick()
      } catch (err) {
        // The killed host's client is expected to fail; a stalled one is counted as unfinished.
        if ((killed as Kill | null)?.host === index) return
        if (!deadline.aborted || signal.aborted) throw err
        console.error(`  host ${index} did not finish within ${settings.timeoutSeconds} s`)
      }
    }))
    clearTimeout(timer)
    signal.removeEventListener('abort', onStop)
    const wallSeconds = (performance.now() - started) / 1000
    const busyIntervals = await machineBusy.stop()
    const kill = killed as Kill | null
    const [nodeCpu, originCpu, reapedCpu, machine] = await Promise.all([
      Promise.all(nodes.map(async (node, index) => index === kill?.host ? await kill.cpuSeconds : await treeCpuSeconds(node.child.pid!))),
      treeCpuSeconds(init.originProcess.pid!),
      reapedChildrenCpuSeconds(),
      machineCpuSeconds()
    ])
    // Each finished node counts the whole file, and (no node killed) every byte received from a
    // peer was counted as uploaded by another.
    const traced = await trace?.stop(line => {
      const held = line.hosts.every((value, index) => hostSeconds[index] === null || (value !== null && value[1] + value[2] >= size))
      const sum = (column: 0 | 1): number => line.hosts.reduce((total, value) => total + (value?.[column] ?? 0), 0)
      return held && (kill !== null || sum(0) >= sum(1))
    })
    trace = undefined
    const peakRssMB = await Promise.all(nodes.map(async (node, index) => index === kill?.host ? await kill.peakRssMB : round(await peakRssBytes(node.child.pid!) / MB)))
    const stats = await nsJson<{ cdn: { bytesServed: number } }>(init.origin, `${init.info.statsUrl}/stats`)
    const hashes = await Promise.all(outputs.map(async (output, index) => hostSeconds[index] === null ? undefined : await sha256File(output)))
    await Promise.all(outputs.map(async output => await rm(output, { force: true })))

    const nodeSeconds = nodeCpu.map((seconds, index) => round(seconds - cpuAtStart[0][index]!, 2))
    const nodeTotalSeconds = nodeSeconds.reduce((sum, seconds) => sum + seconds, 0)
    const cores = cpus().length
    // A killed node was reaped in the round: its whole life's CPU is in reapedCpu, and its own.
    const killedLifetime = kill === null ? 0 : await kill.cpuSeconds
    const cpu: RoundCpu = {
      wallSeconds: round(wallSeconds, 3),
      cores,
      nodeSeconds,
      nodeTotalSeconds: round(nodeTotalSeconds, 2),
      nodeShareOfMachine: round(nodeTotalSeconds / (wallSeconds * cores), 3),
      originSeconds: round(originCpu - cpuAtStart[1], 2),
      clientSeconds: round(reapedCpu - cpuAtStart[2] - killedLifetime, 2),
      samplerSeconds: round(traced?.samplerCpuSeconds ?? 0, 2),
      machineBusyShare: round((machine.busy - cpuAtStart[3].busy) / (machine.total - cpuAtStart[3].total), 3),
      machineBusyIntervals: busyIntervals.intervals,
      machineSaturatedShare: busyIntervals.saturatedShare
    }
    const countedHosts = hosts.map((_, index) => index).filter(index => index !== kill?.host && index !== slowHost)
    const counted = countedHosts.map(index => hostSeconds[index]!)
    const lastHostSeconds = counted.some(seconds => seconds === null) ? null : Math.max(...counted)
    const unfinishedHosts = hostSeconds.filter((seconds, index) => seconds === null && index !== kill?.host).length
    const series = traced?.series ?? null
    const originLinkBytes = traced?.origin.at(-1)?.[1] ?? stats.cdn.bytesServed
    return {
      mode,
      hosts: hosts.length,
      run: init.run,
      hostUps,
      lowerBoundSeconds: round(bound, 3),
      slowHost,
      killed: kill === null ? null : { host: kill.host, atSeconds: kill.atSeconds, heldShare: kill.heldShare, elected: elected.includes(kill.host) },
      hostSeconds: hostSeconds.map(seconds => seconds === null ? null : round(seconds, 3)),
      countedHosts,
      overBound: lastHostSeconds === null ? null : round(lastHostSeconds / bound, 3),
      lastHostSeconds: lastHostSeconds === null ? null : round(lastHostSeconds, 3),
      unfinishedHosts,
      originBytes: stats.cdn.bytesServed,
      originBytesPerFile: round(stats.cdn.bytesServed / size, 3),
      // Of the copies that finished: a stalled client is counted in unfinishedHosts instead.
      byteExact: hashes.every(hash => hash === undefined || hash === file.sha256),
      peakRssMB,
      cpu,
      received: series === null ? null : receivedFigures(series, size, kill?.host),
      upload: series === null ? null : uploadUse({ series, hostSeconds, hostUps, lastHostSeconds, originBytes: stats.cdn.bytesServed, originLinkBytes, originUp: settings.originUp, killedHost: kill?.host }),
      trace: traced === undefined ? null : { columns: seriesColumns, hosts: traced.series, origin: traced.origin }
    }
  } finally {
    await trace?.stop().catch(() => undefined)
    await Promise.all(nodes.map(async node => await node.stop()))
    for (const node of nodes) init.nodeDirs.delete(node.dataDir)
  }
}
