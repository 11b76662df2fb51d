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
 *             core, from utime + stime in /proc/PID/stat, so valid on a loaded machine) and RSS
 *             over a window. Target ≤ 1 % and ≤ 150 MB. With --idle-before, the same once the
 *             nodes have joined and before any download, so both states are seen. Each node's
 *             figures are printed in a second table and kept in the JSON (`perNode`).
 *
 *   node dist/scripts/bench-crowd.js [--nodes 50] [--size 256MiB] [--idle-before] [--out results/bench-crowd.json]
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
import { cpuSeconds, currentRssBytes, peakRssBytes } from './lib/proc.js'
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
    'idle-window-s': { type: 'string', default: '60', valueName: 'S', description: 'the window over which idle CPU is measured' },
    'node-env': { type: 'string', valueName: 'K=V,…', description: 'environment for every node, e.g. MALLOC_MMAP_THRESHOLD_=131072 (docs/operations.md: glibc keeps freed memory otherwise)' },
    'idle-before': { type: 'boolean', default: false, description: 'also measure idle CPU and RSS after the join, before any download (settle time, then a window)' },
    out: { type: 'string', default: 'results/bench-crowd.json', valueName: 'FILE', description: 'where the JSON report goes' }
  }
})
const count = Number(values.nodes)
const size = parseByteSize(values.size)
const MB = 1e6
const nodeEnv = Object.fromEntries((values['node-env'] ?? '').split(',').filter(pair => pair !== '').map(pair => {
  const at = pair.indexOf('=')
  if (at <= 0) {
    console.error(`bench-crowd: --node-env wants KEY=VALUE pairs, not ${JSON.stringify(pair)}`)
    process.exit(2)
  }
  return [pair.slice(0, at), pair.slice(at + 1)]
}))

/** Starts the fake Hub as its own process with the file every node downloads. */
async function startOrigin (fixtureDir: string): Promise<{ child: ChildProcess, info: FakeHubInfo }> {
  const args = ['--size', String(size), '--fixture-dir', fixtureDir, '--stats-port', '0']
  if (values['origin-rate'] !== undefined) {
    parseByteRate(values['origin-rate'])
    args.push('--rate', values['origin-rate'])
  }
  return await startFakeHubProcess(args)
}

/** Each node's CPU over one idle window, and its RSS at the end of it. */
interface IdleFigures {
  windowSeconds: number
  /** Load average (1, 5, 15 min) when the window ended: how contended the machine was. */
  loadAverage: number[]
  cpuPercent: number[]
  rssMB: number[]
}

/** Waits `settleSeconds`, then measures each process's CPU (% of one core) over `windowSeconds`. */
async function measureIdle (pids: number[], settleSeconds: number, windowSeconds: number): Promise<IdleFigures> {
  await sleep(settleSeconds * 1000)
  const before = await Promise.all(pids.map(cpuSeconds))
  const start = performance.now()
  await sleep(windowSeconds * 1000)
  const after = await Promise.all(pids.map(cpuSeconds))
  const window = (performance.now() - start) / 1000
  return {
    windowSeconds: round(window, 1),
    loadAverage: machineInfo().loadAverage,
    cpuPercent: pids.map((_, index) => round(100 * (after[index]! - before[index]!) / window, 2)),
    rssMB: await Promise.all(pids.map(async pid => round(await currentRssBytes(pid) / MB)))
  }
}

/** Spawns the bootstrap node, then the rest through it, a few at a time (each start costs CPU). */
async function startCrowd (nodes: NodeProcess[]): Promise<void> {
  const flags = ['--role', 'seed', '--allowed-upstreams', '127.0.0.1']
  const first = await spawnNode(flags, undefined, nodeEnv)
  nodes.push(first)
  const bootstrap = first.info.multiaddrs[0]
  if (bootstrap === undefined) throw new Error('the bootstrap node has no address')
  for (let started = 1; started < count; started += 8) {
    const batch = Math.min(8, count - started)
    nodes.push(...await Promise.all(Array.from({ length: batch }, async () => await spawnNode([...flags, '--bootstrap', bootstrap], undefined, nodeEnv))))
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

    const pids = nodes.map(node => node.child.pid!)
    let idleBefore: IdleFigures | undefined
    if (values['idle-before']) {
      console.error(`before the download: settling ${values['settle-s']} s, then measuring idle CPU over ${values['idle-window-s']} s…`)
      idleBefore = await measureIdle(pids, Number(values['settle-s']), Number(values['idle-window-s']))
    }

    await fetch(`${info.statsUrl}/reset`, { method: 'POST' })
    console.error(`all ${count} nodes download ${round(size / MB)} MB at once…`)
    const downloadStart = performance.now()
    const results: DownloadResult[] = await Promise.all(nodes.map(async node => await curl(file.resolveUrl, { proxy: node.proxyUrl, followRedirects: true })))
    const downloadSeconds = (performance.now() - downloadStart) / 1000
    const stats = await (await fetch(`${info.statsUrl}/stats`)).json() as { cdn: { bytesServed: number } }
    const byteExact = results.filter(result => result.status === 200 && result.sha256 === file.sha256).length
    const failures = results.filter(result => result.status !== 200 || result.sha256 !== file.sha256).map(result => result.error ?? `status ${result.status}, ${result.bytes} bytes`)

    console.error(`settling ${values['settle-s']} s, then measuring idle CPU over ${values['idle-window-s']} s…`)
    const idle = await measureIdle(pids, Number(values['settle-s']), Number(values['idle-window-s']))
    const idleCpuPercent = idle.cpuPercent
    const idleRssMB = idle.rssMB
    const window = idle.windowSeconds
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
      ...(idleBefore === undefined
        ? []
        : [['idle CPU per node before the download, % of a core', summary(idleBefore.cpuPercent), '≤ 1'], ['idle RSS per node before the download, MB', summary(idleBefore.rssMB), '≤ 150']]),
      ['idle CPU per node, % of a core', summary(idleCpuPercent), '≤ 1'],
      ['idle RSS per node, MB', summary(idleRssMB), '≤ 150'],
      ['peers seen per node at the end', summary(finalPeers), '']
    ])
    for (const failure of failures.slice(0, 5)) console.log(`  failed copy: ${failure}`)
    const perNode = pids.map((pid, index) => ({
      node: index,
      pid,
      ...(idleBefore === undefined ? {} : { idleCpuPercentBefore: idleBefore.cpuPercent[index]!, idleRssMBBefore: idleBefore.rssMB[index]! }),
      idleCpuPercent: idleCpuPercent[index]!,
      idleRssMB: idleRssMB[index]!,
      peakRssMB: peakRssMB[index]!
    }))
    console.log(`\neach node (node 0 is the bootstrap node); idle windows of ${window} s, load average at their end ${idleBefore === undefined ? '' : `${idleBefore.loadAverage.join(' ')} (before), `}${idle.loadAverage.join(' ')} (after)`)
    printTable([
      ['node', 'pid', ...(idleBefore === undefined ? [] : ['idle CPU % before', 'RSS MB before']), 'idle CPU % after', 'RSS MB after', 'peak RSS MB'],
      ...perNode.map(row => [row.node, row.pid, ...(idleBefore === undefined ? [] : [row.idleCpuPercentBefore ?? '-', row.idleRssMBBefore ?? '-']), row.idleCpuPercent, row.idleRssMB, row.peakRssMB])
    ])
    await writeJson(values.out, {
      date: new Date().toISOString(),
      machine: { ...machineAtStart, loadAverageAtEnd: machineInfo().loadAverage },
      nodes: count,
      size,
      nodeEnv,
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
      settleSeconds: Number(values['settle-s']),
      idleWindowSeconds: round(window, 1),
      idleLoadAverage: idle.loadAverage,
      idleCpuPercent,
      idleRssMB,
      ...(idleBefore === undefined ? {} : { idleBefore }),
      perNode,
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
