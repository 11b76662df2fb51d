/**
 * bench-swarm — N hosts start cold at the same moment and all want the same file.
 *
 * Builds a testbed of network namespaces (scripts/lib/netns.ts): an origin host running the fake
 * Hub + CDN (dist/scripts/fake-hub.js) whose upload is capped at u_s, and N hosts whose links
 * are capped at u up and d down (tc tbf). For each N it runs two rounds:
 *   swarm   every host runs a node (`damselfly start --role seed`, bootstrapped through host 0;
 *           the nodes elect among themselves who fetches from the origin) and curl through it;
 *   direct  every host's curl fetches from the origin itself.
 * All clients start at the same moment and follow the Hub's resolve URL to the CDN, as
 * huggingface_hub does. Measured: the time until the last host has the whole file (sha256
 * checked afterwards), the bytes the CDN served, and each node's peak RSS. The yardstick is the
 * fluid-model lower bound T* = max(F/u_s, F/d, N·F/(u_s + N·u)) (Kumar & Ross 2006). Issue 4's
 * target: N = 8 within 1.25× T* with the origin serving ≤ 1.05× the file.
 *
 * Needs root and iproute2. Namespaces are named dmsb<pid>-…; they are removed on exit, on
 * SIGINT/SIGTERM, and (when their run's process is gone) at the start of the next run.
 *
 *   node dist/scripts/bench-swarm.js [--hosts 2,4,8] [--size 64MiB] [--origin-up 10MB/s]
 *     [--host-up 5MB/s] [--host-down 20MB/s] [--out results/bench-swarm.json]
 *     [--chart results/bench-swarm.svg] [--smoke]
 */
import '../src/polyfill.js'
import { execFile, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, rmSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { scriptArgs } from './lib/args.js'
import { parseByteRate, parseByteSize } from '../test/fixtures/fake-hub/index.js'
import { spawnNode, tempDir, type NodeProcess } from '../test/helpers/nodes.js'
import type { NodeStatus } from '../test/helpers/status.js'
import { waitFor } from '../test/helpers/wait.js'
import { writeSvgChart } from './lib/charts.js'
import { startFakeHubProcess, type FakeHubInfo } from './lib/fake-hub-process.js'
import { machineInfo } from './lib/machine.js'
import { createTestbed, netnsUnavailable, removeStaleNamespaces, type NetnsHost, type Testbed } from './lib/netns.js'
import { peakRssBytes } from './lib/proc.js'
import { printTable, writeJson } from './lib/report.js'
import { round } from './lib/stats.js'
import { timedCurl } from './lib/timed-curl.js'

const values = scriptArgs({
  name: 'bench-swarm',
  summary: 'N hosts (network namespaces, tc-capped links) start cold at once and all want the same file: swarm vs direct, against the fluid-model bound T*. Needs root and iproute2.',
  options: {
    hosts: { type: 'string', default: '2,4,8', valueName: 'LIST', description: 'host counts N to run, comma-separated' },
    // Small links on purpose: N nodes share this machine's two cores, and the links, not the
    // CPU, must be what limits the transfer for T* to be the right yardstick.
    size: { type: 'string', default: '64MiB', valueName: 'SIZE', description: 'size of the file' },
    'origin-up': { type: 'string', default: '10MB/s', valueName: 'RATE', description: 'the origin host\'s upload' },
    'host-up': { type: 'string', default: '5MB/s', valueName: 'RATE', description: 'each host\'s upload' },
    'host-down': { type: 'string', default: '20MB/s', valueName: 'RATE', description: 'each host\'s download' },
    out: { type: 'string', default: 'results/bench-swarm.json', valueName: 'FILE', description: 'where the JSON report goes' },
    chart: { type: 'string', default: 'results/bench-swarm.svg', valueName: 'FILE', description: 'where the SVG chart goes' },
    from: { type: 'string', valueName: 'FILE', description: 'measure nothing: print the table and draw the chart from this earlier (maybe partial) JSON, run with the same options' },
    'round-timeout-s': { type: 'string', default: '300', valueName: 'S', description: 'a client not done by then is recorded as unfinished and the run goes on' },
    smoke: { type: 'boolean', default: false, description: 'two hosts, a small file, fast links (npm test runs this)' }
  }
})
const counts = values.smoke ? [2] : values.hosts.split(',').map(Number)
const size = parseByteSize(values.smoke ? '4MiB' : values.size)
const originUp = parseByteRate(values.smoke ? '50MB/s' : values['origin-up'])
const hostUp = parseByteRate(values.smoke ? '50MB/s' : values['host-up'])
const hostDown = parseByteRate(values.smoke ? '100MB/s' : values['host-down'])
const timeoutSeconds = values.smoke ? 60 : Number(values['round-timeout-s'])
const MB = 1e6
const exec = promisify(execFile)
/** Data dirs of the running nodes, removed by the signal handler (their stop() will not run). */
const nodeDirs = new Set<string>()

interface RoundResult {
  mode: 'swarm' | 'direct'
  hosts: number
  /** Seconds from the common start until each host's client had the whole file; null: not within the round's timeout. */
  hostSeconds: Array<number | null>
  /** null when a host did not finish. */
  lastHostSeconds: number | null
  unfinishedHosts: number
  originBytes: number
  originBytesPerFile: number
  byteExact: boolean
  /** Peak RSS (VmHWM) of each node process, MB (swarm rounds only). */
  peakRssMB: number[]
}

type OriginInfo = FakeHubInfo

/** The fluid-model lower bound on the time to give N hosts a file of `size` bytes. */
function lowerBound (hosts: number): number {
  return Math.max(size / originUp, size / hostDown, hosts * size / (originUp + hosts * hostUp))
}

/** Runs curl inside a namespace and parses its JSON answer (the root namespace has no route in). */
async function nsJson<T> (host: NetnsHost, url: string, method = 'GET'): Promise<T> {
  const [command, ...args] = [...host.exec, 'curl', '-sS', '-X', method, url]
  const { stdout } = await exec(command!, args)
  return JSON.parse(stdout) as T
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 2 ** 20 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Starts the fake Hub in the origin namespace and reads the URLs it prints. */
async function startOrigin (origin: NetnsHost, fixtureDir: string, children: Set<ChildProcess>): Promise<OriginInfo> {
  const { child, info } = await startFakeHubProcess(['--host', origin.address, '--port', '8080', '--cdn-port', '8081', '--stats-port', '8082',
    '--size', String(size), '--fixture-dir', fixtureDir], origin.exec)
  children.add(child)
  child.on('exit', () => children.delete(child))
  return info
}

/** Starts one node per host, host 0 first, the others bootstrapped through it, all seeds. */
async function startNodes (hosts: NetnsHost[], originAddress: string): Promise<NodeProcess[]> {
  const flags = (host: NetnsHost): string[] => ['--role', 'seed', '--p2p-listen', `/ip4/${host.address}/tcp/4001`, '--data-listen', `${host.address}:4002`, '--allowed-upstreams', originAddress]
  const nodes: NodeProcess[] = []
  try {
    const first = await spawnNode(flags(hosts[0]!), undefined, {}, hosts[0]!.exec)
    nodes.push(first)
    nodeDirs.add(first.dataDir)
    const bootstrap = first.info.multiaddrs.find(address => address.includes(`/ip4/${hosts[0]!.address}/`))
    if (bootstrap === undefined) throw new Error(`host 0's node does not listen on ${hosts[0]!.address}: ${first.info.multiaddrs.join(' ')}`)
    const started = await Promise.allSettled(hosts.slice(1).map(async host => await spawnNode([...flags(host), '--bootstrap', bootstrap], undefined, {}, host.exec)))
    for (const result of started) {
      if (result.status === 'fulfilled') {
        nodes.push(result.value)
        nodeDirs.add(result.value.dataDir)
      }
    }
    const failed = started.find(result => result.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    // Everyone must know everyone before the clients start: otherwise some hosts would not
    // see the elected seeds yet and fetch from the origin themselves.
    await waitFor(`all ${hosts.length} nodes to see each other`, async () => {
      const statuses = await Promise.all(nodes.map(async (node, index) => await nsJson<NodeStatus>(hosts[index]!, `http://${node.info.admin}/api/status`)))
      return statuses.every(status => status.peers.length >= hosts.length - 1)
    }, 60_000)
    return nodes
  } catch (err) {
    await Promise.all(nodes.map(async node => await node.stop()))
    throw err
  }
}

async function runRound (mode: RoundResult['mode'], hosts: NetnsHost[], origin: NetnsHost, info: OriginInfo, outDir: string, signal: AbortSignal): Promise<RoundResult> {
  const nodes = mode === 'swarm' ? await startNodes(hosts, origin.address) : []
  const file = info.files[0]!
  try {
    await nsJson(origin, `${info.statsUrl}/reset`, 'POST')
    const started = performance.now()
    const outputs = hosts.map((_, index) => join(outDir, `${mode}-${hosts.length}-${index}.bin`))
    // A plain controller and timer: Node 20's AbortSignal.any/timeout pair did not fire here.
    const roundStop = new AbortController()
    const deadline = roundStop.signal
    const onStop = (): void => { roundStop.abort() }
    signal.addEventListener('abort', onStop, { once: true })
    const timer = setTimeout(onStop, timeoutSeconds * 1000)
    const hostSeconds = await Promise.all(hosts.map(async (host, index) => {
      try {
        const timing = await timedCurl(file.resolveUrl, {
          prefix: host.exec,
          follow: true,
          output: outputs[index],
          signal: deadline,
          ...(mode === 'swarm' ? { proxy: nodes[index]!.proxyUrl } : {})
        })
        if (timing.status !== 200 || timing.bytes !== size) throw new Error(`host ${index}: status ${timing.status}, ${timing.bytes} bytes`)
        return (performance.now() - started) / 1000
      } catch (err) {
        if (!deadline.aborted || signal.aborted) throw err
        console.error(`  host ${index} did not finish within ${timeoutSeconds} s`)
        return null
      }
    }))
    clearTimeout(timer)
    signal.removeEventListener('abort', onStop)
    const peakRssMB = await Promise.all(nodes.map(async node => round(await peakRssBytes(node.child.pid!) / MB)))
    const stats = await nsJson<{ cdn: { bytesServed: number } }>(origin, `${info.statsUrl}/stats`)
    const hashes = await Promise.all(outputs.map(async (output, index) => hostSeconds[index] === null ? undefined : await sha256File(output)))
    await Promise.all(outputs.map(async output => await rm(output, { force: true })))
    const finished = hostSeconds.filter(seconds => seconds !== null)
    const unfinishedHosts = hosts.length - finished.length
    return {
      mode,
      hosts: hosts.length,
      hostSeconds: hostSeconds.map(seconds => seconds === null ? null : round(seconds, 3)),
      lastHostSeconds: unfinishedHosts > 0 ? null : round(Math.max(...finished), 3),
      unfinishedHosts,
      originBytes: stats.cdn.bytesServed,
      originBytesPerFile: round(stats.cdn.bytesServed / size, 3),
      // Of the copies that finished: a stalled client is counted in unfinishedHosts instead.
      byteExact: hashes.every(hash => hash === undefined || hash === file.sha256),
      peakRssMB
    }
  } finally {
    await Promise.all(nodes.map(async node => await node.stop()))
    for (const node of nodes) nodeDirs.delete(node.dataDir)
  }
}

function report (results: RoundResult[]): void {
  const rows: Array<Array<string | number>> = [['N', 'mode', 'last host s', 'T* s', '× T*', 'origin × file', 'byte-exact', 'peak RSS MB (max)', 'per host s']]
  for (const result of results) {
    const bound = lowerBound(result.hosts)
    const last = result.lastHostSeconds === null ? `${result.unfinishedHosts} unfinished` : result.lastHostSeconds
    rows.push([result.hosts, result.mode, last, round(bound, 2), result.lastHostSeconds === null ? '-' : round(result.lastHostSeconds / bound, 2),
      result.originBytesPerFile, result.byteExact ? 'yes' : 'NO', result.peakRssMB.length > 0 ? Math.max(...result.peakRssMB) : '-',
      result.hostSeconds.map(seconds => seconds === null ? 'stalled' : round(seconds, 1)).join(' ')])
  }
  printTable(rows)
}

async function chart (results: RoundResult[]): Promise<void> {
  const data = [
    // A round with an unfinished host has no completion time to draw.
    ...results.filter(result => result.lastHostSeconds !== null).map(result => ({ hosts: result.hosts, series: result.mode === 'swarm' ? 'Damselfly swarm' : 'every host direct from the origin', seconds: result.lastHostSeconds })),
    ...[...new Set(results.map(result => result.hosts))].map(hosts => ({ hosts, series: 'lower bound T*', seconds: round(lowerBound(hosts), 3) }))
  ]
  await writeSvgChart(values.chart, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'N hosts start cold at once: seconds until the last one has the file',
      subtitle: `file ${round(size / MB)} MB; origin up ${round(originUp / MB)} MB/s; each host up ${round(hostUp / MB)} MB/s, down ${round(hostDown / MB)} MB/s`
    },
    width: 480,
    height: 300,
    data: { values: data },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'hosts', type: 'quantitative', title: 'hosts (N)', axis: { values: [...new Set(results.map(result => result.hosts))], format: 'd' } },
      y: { field: 'seconds', type: 'quantitative', title: 'seconds' },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
      strokeDash: { field: 'series', type: 'nominal', title: null }
    }
  })
}

async function main (): Promise<void> {
  if (values.from !== undefined) {
    const earlier = JSON.parse(await readFile(values.from, 'utf8')) as { results: RoundResult[] }
    report(earlier.results)
    await chart(earlier.results)
    console.log(`wrote ${values.chart}`)
    return
  }
  const unavailable = netnsUnavailable()
  if (unavailable !== undefined) {
    console.error(`bench-swarm: ${unavailable}`)
    process.exitCode = 2
    return
  }
  const stale = removeStaleNamespaces()
  if (stale.length > 0) console.error(`removed namespaces left by an earlier run: ${stale.join(' ')}`)
  const machineAtStart = machineInfo()
  const children = new Set<ChildProcess>()
  const stopping = new AbortController()
  let testbed: Testbed | undefined
  // On a signal: kill what runs inside the namespaces, delete them, then leave. The node
  // processes are SIGKILLed by spawnNode's own exit hook.
  const onSignal = (name: NodeJS.Signals): void => {
    stopping.abort()
    for (const child of children) child.kill('SIGKILL')
    testbed?.destroy()
    for (const folder of [work, ...nodeDirs]) rmSync(folder, { recursive: true, force: true })
    console.error(`bench-swarm: ${name}, namespaces removed`)
    process.exit(130)
  }
  const work = await tempDir('damselfly-bench-swarm-')
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const results: RoundResult[] = []
  try {
    testbed = await createTestbed({ hosts: Math.max(...counts), originUp, hostUp, hostDown })
    const info = await startOrigin(testbed.origin, join(work, 'fixtures'), children)
    for (const hosts of counts) {
      for (const mode of ['swarm', 'direct'] as const) {
        console.error(`N = ${hosts}, ${mode}…`)
        const result = await runRound(mode, testbed.hosts.slice(0, hosts), testbed.origin, info, work, stopping.signal)
        results.push(result)
        console.error(`  last host ${result.lastHostSeconds ?? 'unfinished'} s, origin served ${result.originBytesPerFile}× the file`)
        // Written after every round, so that a run cut short still leaves what it measured.
        await writeJson(values.out, { date: new Date().toISOString(), machine: machineAtStart, size, rates: { originUp, hostUp, hostDown }, partial: true, results })
      }
    }
  } finally {
    for (const child of children) child.kill('SIGKILL')
    testbed?.destroy()
    await rm(work, { recursive: true, force: true })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  console.log(`file ${round(size / MB)} MB (MB = 10^6 bytes); origin up u_s = ${round(originUp / MB)} MB/s; each host up u = ${round(hostUp / MB)} MB/s, down d = ${round(hostDown / MB)} MB/s`)
  console.log('T* = max(F/u_s, F/d, N·F/(u_s + N·u)); origin × file = bytes the CDN served / file size')
  report(results)
  await writeJson(values.out, {
    date: new Date().toISOString(),
    machine: { ...machineAtStart, loadAverageAtEnd: machineInfo().loadAverage },
    size,
    rates: { originUp, hostUp, hostDown },
    results: results.map(result => ({ ...result, lowerBoundSeconds: round(lowerBound(result.hosts), 3) }))
  })
  console.log(`wrote ${values.out}`)
  await chart(results)
  console.log(`wrote ${values.chart}`)
  if (!results.every(result => result.byteExact && result.unfinishedHosts === 0)) {
    console.log('FAIL: a host\'s copy was not byte-exact, or a host did not finish')
    process.exitCode = 1
  }
}

await main()
