/**
 * bench-crowd — many real nodes on this one machine (issue 12, "at scale"): N node processes
 * join through one bootstrap address, then every one of them asks for the same file at once.
 *
 * Unlike bench-swarm there are no namespaces and no link caps: everything runs on loopback, so
 * the two cores, not links, bound the transfer, and the time of the download round is not a
 * figure to compare with T*. What this measures is what a big cluster needs to know:
 *   join      seconds from the first spawn until every node has a peer, and until every node
 *             sees every other one (or how many it sees when the wait ends);
 *   download  every copy byte-exact (hashed here as curl streams it), and the bytes the CDN
 *             served ÷ the file (target ≤ 1.05);
 *   memory    each node's peak RSS (VmHWM) over the whole run;
 *   idle      once every download is done and the swarm has settled: each node's CPU (% of one
 *             core, from /proc/PID/stat) and RSS over a window. Target ≤ 1 % and ≤ 150 MB.
 *
 *   node dist/scripts/bench-crowd.js [--nodes 50] [--size 256MiB] [--out results/bench-crowd.json]
 */
import '../src/polyfill.js'
import type { ChildProcess } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { scriptArgs } from './lib/args.js'
import { parseByteRate, parseByteSize } from '../test/fixtures/fake-hub/index.js'
import { curl, type DownloadResult } from '../test/helpers/clients.js'
import { spawnNode, tempDir, type NodeProcess } from '../test/helpers/nodes.js'
import type { NodeStatus } from '../test/helpers/status.js'
import { startFakeHubProcess, type FakeHubInfo } from './lib/fake-hub-process.js'
import { machineInfo } from './lib/machine.js'
import { peakRssBytes } from './lib/proc.js'
import { printTable, writeJson } from './lib/report.js'
import { median, round } from './lib/stats.js'

const values = scriptArgs({
  name: 'bench-crowd',
  summary: 'N real nodes on loopback join through one bootstrap address and all download one file at once: join time, byte-exactness, origin bytes, peak RSS, and idle CPU/RSS once settled.',
  options: {
    nodes: { type: 'string', default: '50', valueName: 'N', description: 'how many node processes' },
    size: { type: 'string', default: '256MiB', valueName: 'SIZE', description: 'size of the file every node downloads' },
    'origin-rate': { type: 'string', valueName: 'RATE', description: 'the CDN\'s total upload, e.g. 200MB/s (default uncapped)' },
    'join-timeout-s': { type: 'string', default: '120', valueName: 'S', description: 'how long to wait for every node to see every other one' },
    'settle-s': { type: 'string', default: '20', valueName: 'S', description: 'quiet time after the last download before the idle window' },
    'idle-window-s': { type: 'string', default: '30', valueName: 'S', description: 'the window over which idle CPU is measured' },
    out: { type: 'string', default: 'results/bench-crowd.json', valueName: 'FILE', description: 'where the JSON report goes' }
  }
})
const count = Number(values.nodes)
const size = parseByteSize(values.size)
const MB = 1e6
/** The kernel's clock ticks per second for /proc/PID/stat times (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100

/** Starts the fake Hub as its own process with the file every node downloads. */
async function startOrigin (fixtureDir: string): Promise<{ child: ChildProcess, info: FakeHubInfo }> {
  const args = ['--size', String(size), '--fixture-dir', fixtureDir, '--stats-port', '0']
  if (values['origin-rate'] !== undefined) {
    parseByteRate(values['origin-rate'])
    args.push('--rate', values['origin-rate'])
  }
  return await startFakeHubProcess(args)
}

/** CPU seconds (user + system) a process has used so far; NaN once it is gone. */
async function cpuSeconds (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (stat === undefined) return NaN
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

async function currentRssBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** Spawns the bootstrap node, then the rest through it, a few at a time (each start costs CPU). */
async function startCrowd (nodes: NodeProcess[]): Promise<void> {
  const flags = ['--role', 'seed', '--allowed-upstreams', '127.0.0.1']
  const first = await spawnNode(flags)
  nodes.push(first)
  const bootstrap = first.info.multiaddrs[0]
  if (bootstrap === undefined) throw new Error('the bootstrap node has no address')
  for (let started = 1; started < count; started += 8) {
    const batch = Math.min(8, count - started)
    nodes.push(...await Promise.all(Array.from({ length: batch }, async () => await spawnNode([...flags, '--bootstrap', bootstrap]))))
  }
}

/** Peers each node sees right now; NaN for a node that does not answer within 30 s (50 nodes on 2 cores answer slowly). */
async function peerCounts (nodes: NodeProcess[]): Promise<number[]> {
  return await Promise.all(nodes.map(async node => {
    const response = await fetch(`http://${node.info.admin}/api/status`, { signal: AbortSignal.timeout(30_000) }).catch(() => undefined)
    const status = await response?.json().catch(() => undefined) as NodeStatus | undefined
    return status?.peers.length ?? NaN
  }))
}

/** Polls until `done` holds for the peer counts or the deadline passes; returns the seconds taken, or null. */
async function secondsUntil (nodes: NodeProcess[], since: number, deadline: number, done: (counts: number[]) => boolean): Promise<{ seconds: number | null, counts: number[] }> {
  for (;;) {
    const counts = await peerCounts(nodes)
    if (done(counts)) return { seconds: (performance.now() - since) / 1000, counts }
    if (performance.now() > deadline) return { seconds: null, counts }
    await sleep(250)
  }
}

async function main (): Promise<void> {
  // spawnNode adds an exit hook per node (it kills the node if this script dies).
  process.setMaxListeners(count + 10)
  const machineAtStart = machineInfo()
  const work = await tempDir('damselfly-bench-crowd-')
  const { child: origin, info } = await startOrigin(join(work, 'fixtures'))
  const file = info.files[0]!
  const nodes: NodeProcess[] = []
  try {
    console.error(`starting ${count} nodes…`)
    const spawnedAt = performance.now()
    await startCrowd(nodes)
    const spawnSeconds = (performance.now() - spawnedAt) / 1000
    const deadline = performance.now() + Number(values['join-timeout-s']) * 1000
    const connected = await secondsUntil(nodes, spawnedAt, deadline, counts => counts.every(peers => peers >= 1))
    const meshed = await secondsUntil(nodes, spawnedAt, deadline, counts => counts.every(peers => peers >= count - 1))
    console.error(`  every node has a peer after ${connected.seconds === null ? '-' : round(connected.seconds, 1)} s; sees every other after ${meshed.seconds === null ? '-' : round(meshed.seconds, 1)} s (median peers seen ${median(meshed.counts)})`)

    await fetch(`${info.statsUrl}/reset`, { method: 'POST' })
    console.error(`all ${count} nodes download ${round(size / MB)} MB at once…`)
    const downloadStart = performance.now()
    const results: DownloadResult[] = await Promise.all(nodes.map(async node => await curl(file.resolveUrl, { proxy: node.proxyUrl, followRedirects: true })))
    const downloadSeconds = (performance.now() - downloadStart) / 1000
    const stats = await (await fetch(`${info.statsUrl}/stats`)).json() as { cdn: { bytesServed: number } }
    const byteExact = results.filter(result => result.status === 200 && result.sha256 === file.sha256).length
    const failures = results.filter(result => result.status !== 200 || result.sha256 !== file.sha256).map(result => result.error ?? `status ${result.status}, ${result.bytes} bytes`)

    console.error(`settling ${values['settle-s']} s, then measuring idle CPU over ${values['idle-window-s']} s…`)
    await sleep(Number(values['settle-s']) * 1000)
    const pids = nodes.map(node => node.child.pid!)
    const cpuBefore = await Promise.all(pids.map(cpuSeconds))
    const windowStart = performance.now()
    await sleep(Number(values['idle-window-s']) * 1000)
    const cpuAfter = await Promise.all(pids.map(cpuSeconds))
    const window = (performance.now() - windowStart) / 1000
    const idleCpuPercent = pids.map((_, index) => round(100 * (cpuAfter[index]! - cpuBefore[index]!) / window, 2))
    const idleRssMB = await Promise.all(pids.map(async pid => round(await currentRssBytes(pid) / MB)))
    const peakRssMB = await Promise.all(pids.map(async pid => round(await peakRssBytes(pid) / MB)))
    const died = nodes.filter(node => node.child.exitCode !== null || node.child.signalCode !== null).length
    const finalPeers = await peerCounts(nodes.filter(node => node.child.exitCode === null && node.child.signalCode === null))

    const summary = (all: number[]): string => {
      const list = all.filter(Number.isFinite)
      return list.length === 0 ? '-' : `${round(Math.min(...list), 2)} / ${round(median(list), 2)} / ${round(Math.max(...list), 2)}`
    }
    console.log(`${count} nodes on loopback, file ${round(size / MB)} MB (MB = 10^6 bytes); min / median / max over the nodes`)
    printTable([
      ['figure', 'value', 'target'],
      ['spawn all nodes, s', round(spawnSeconds, 1), ''],
      ['every node has a peer, s', connected.seconds === null ? 'not within the wait' : round(connected.seconds, 1), ''],
      ['every node sees every other, s', meshed.seconds === null ? `not within the wait (peers seen ${summary(meshed.counts)})` : round(meshed.seconds, 1), ''],
      ['download round, s (CPU-bound here)', round(downloadSeconds, 1), ''],
      ['nodes that died', died, '0'],
      ['copies byte-exact', `${byteExact} of ${count}`, `${count} of ${count}`],
      ['origin bytes ÷ file', round(stats.cdn.bytesServed / size, 3), '≤ 1.05'],
      ['peak RSS per node, MB', summary(peakRssMB), '≤ 250'],
      ['idle CPU per node, % of a core', summary(idleCpuPercent), '≤ 1'],
      ['idle RSS per node, MB', summary(idleRssMB), '≤ 150'],
      ['peers seen per node at the end', summary(finalPeers), '']
    ])
    for (const failure of failures.slice(0, 5)) console.log(`  failed copy: ${failure}`)
    await writeJson(values.out, {
      date: new Date().toISOString(),
      machine: { ...machineAtStart, loadAverageAtEnd: machineInfo().loadAverage },
      nodes: count,
      size,
      spawnSeconds: round(spawnSeconds, 2),
      everyNodeHasPeerSeconds: connected.seconds === null ? null : round(connected.seconds, 2),
      fullMeshSeconds: meshed.seconds === null ? null : round(meshed.seconds, 2),
      peersSeenAtJoin: meshed.counts,
      downloadSeconds: round(downloadSeconds, 2),
      byteExact,
      died,
      failures,
      originBytes: stats.cdn.bytesServed,
      originBytesPerFile: round(stats.cdn.bytesServed / size, 3),
      peakRssMB,
      idleWindowSeconds: round(window, 1),
      idleCpuPercent,
      idleRssMB,
      finalPeers
    })
    console.log(`wrote ${values.out}`)
    if (byteExact !== count || died > 0) process.exitCode = 1
  } finally {
    await Promise.all(nodes.map(async node => await node.stop()))
    origin.kill('SIGKILL')
    await rm(work, { recursive: true, force: true })
  }
}

await main()
