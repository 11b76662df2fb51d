/**
 * bench-scenarios — Dragonfly's Hugging Face benchmark, measured the same way on Damselfly.
 *
 * For each origin setting (uncapped, then capped like a WAN CDN) and file size, starts a fake
 * Hub + CDN, a seed node S and a peer node P (their own processes, loopback; P joins through S),
 * and a loopback nginx serving the very file the CDN serves. Each run uses a fresh file and times:
 *   direct        curl ← CDN
 *   cold node     curl ← S ← CDN (S has nothing yet)
 *   remote peer   curl ← P ← S over libp2p (the CDN serves nothing: checked)
 *   local node    curl ← P, a hit from P's disk
 *   client cache  @huggingface/hub downloadFileToCacheDir through P (mirror mode), second call:
 *                 the client finds the file in its own cache dir and only asks the Hub API
 * plus nginx (the local limit for the "local node" row), time to first byte of the cold and hit
 * downloads, the peak RSS (VmHWM) of both node processes and a sha256 check of the client's copy.
 * curl writes bodies to /dev/null and its own clock is used, as Dragonfly's chart times a client.
 * Issue 4's targets: cold ≤ 1.05× direct, local hit ≥ 0.7× nginx, remote peer ≥ 800 MB/s for 1 GiB,
 * TTFB of a hit ≤ 5 ms, RSS ≤ 250 MB (docs/benchmarks.md says where each stands).
 *
 *   node dist/scripts/bench-scenarios.js [--sizes 64MiB,256MiB,1GiB] [--runs 3] [--cap 100MB/s]
 *     [--out results/bench-scenarios.json] [--chart results/bench-scenarios.svg] [--smoke] [--from JSON]
 */
import '../src/polyfill.js'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { relative } from 'node:path'
import { scriptArgs } from './lib/args.js'
import { downloadFileToCacheDir } from '@huggingface/hub'
import { parseByteRate, parseByteSize, startFakeHub, type FakeHub } from '../test/fixtures/fake-hub/index.js'
import { spawnNode, tempDir, type NodeProcess } from '../test/helpers/nodes.js'
import { nodeStatus } from '../test/helpers/status.js'
import { waitFor } from '../test/helpers/wait.js'
import { writeSvgChart } from './lib/charts.js'
import { machineInfo } from './lib/machine.js'
import { startNginx, type StaticServer } from './lib/nginx.js'
import { peakRssBytes } from './lib/proc.js'
import { printTable, writeJson } from './lib/report.js'
import { median, round } from './lib/stats.js'
import { timedDownload, type CurlTiming } from './lib/timed-curl.js'

const values = scriptArgs({
  name: 'bench-scenarios',
  summary: 'Dragonfly\'s Hugging Face benchmark on Damselfly: direct, cold node, remote peer, local hit and client cache, beside a loopback nginx.',
  options: {
    sizes: { type: 'string', default: '64MiB,256MiB,1GiB', valueName: 'LIST', description: 'file sizes, comma-separated' },
    runs: { type: 'string', default: '3', valueName: 'N', description: 'runs per size and origin setting' },
    cap: { type: 'string', default: '100MB/s', valueName: 'RATE', description: 'the capped origin\'s rate; none runs the uncapped origin only' },
    out: { type: 'string', default: 'results/bench-scenarios.json', valueName: 'FILE', description: 'where the JSON report goes' },
    chart: { type: 'string', default: 'results/bench-scenarios.svg', valueName: 'FILE', description: 'where the SVG chart goes' },
    from: { type: 'string', valueName: 'FILE', description: 'measure nothing: print the table and draw the chart from this earlier (maybe partial) JSON' },
    smoke: { type: 'boolean', default: false, description: 'a tiny file, one run, the uncapped origin only (npm test runs this)' }
  }
})
const sizes = (values.smoke ? ['4MiB'] : values.sizes.split(',')).map(parseByteSize)
const runs = values.smoke ? 1 : Number(values.runs)
const caps: Array<number | undefined> = [undefined, ...(values.smoke || values.cap === 'none' ? [] : [parseByteRate(values.cap)])]
const MB = 1e6
const REPO = 'bench/scenarios'

const SCENARIOS = ['direct', 'cold node', 'remote peer', 'local node', 'client cache'] as const
type Scenario = typeof SCENARIOS[number]

interface ScenarioResult {
  scenario: Scenario | 'nginx (local limit)'
  seconds: number[]
  ttfbMs: number[]
  medianSeconds: number
  medianMBps: number
  medianTtfbMs: number
}

interface GroupResult {
  originCap: string
  size: number
  runs: number
  scenarios: ScenarioResult[]
  /** Peak RSS (VmHWM) of each node process over the whole group, MB. */
  peakRssMB: { seed: number, peer: number }
  /** Bytes the CDN served for the remote-peer, local-node and client-cache rows (must be 0). */
  cdnBytesDuringPeerRows: number
  byteExact: boolean
}

function capLabel (cap: number | undefined): string {
  return cap === undefined ? 'uncapped' : `${round(cap / MB)} MB/s`
}

function sizeLabel (size: number): string {
  return size >= 2 ** 30 ? `${round(size / 2 ** 30)} GiB` : `${round(size / 2 ** 20)} MiB`
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 2 ** 20 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** The client-cache row: the first call fills the cache through P, the second is timed. */
async function clientCacheSeconds (hubUrl: string, path: string, cacheDir: string, sha256: string): Promise<{ seconds: number, byteExact: boolean }> {
  const params = { repo: REPO, path, hubUrl, cacheDir, xet: false }
  // The library announces each download on console.debug; the table is what matters here.
  const debug = console.debug
  console.debug = () => {}
  try {
    const first = await downloadFileToCacheDir(params)
    const started = performance.now()
    const second = await downloadFileToCacheDir(params)
    const seconds = (performance.now() - started) / 1000
    return { seconds, byteExact: first === second && await sha256File(second) === sha256 }
  } finally {
    console.debug = debug
  }
}

async function runGroup (cap: number | undefined, size: number, fixtureDir: string, signal: AbortSignal): Promise<GroupResult> {
  const tag = `${capLabel(cap).replace(/\W+/g, '')}-${size}`
  const files = Array.from({ length: runs }, (_, run) => ({ path: `run${run}.bin`, size, seed: `bench-scenarios/${tag}/${run}/${Date.now()}` }))
  const hub = await startFakeHub({ repos: [{ id: REPO, files }], fixtureDir, cdnBytesPerSecond: cap })
  const started: NodeProcess[] = []
  let nginx: StaticServer | undefined
  const cacheDir = await tempDir('damselfly-hf-cache-')
  try {
    const seed = await spawnNode(['--role', 'seed', '--registry', hub.hubUrl])
    started.push(seed)
    const peer = await spawnNode(['--registry', hub.hubUrl, '--bootstrap', seed.info.multiaddrs[0]!])
    started.push(peer)
    await waitFor('the peer to join the seed', async () => (await nodeStatus(peer.info.admin)).peers.includes(seed.info.peerId))
    nginx = await startNginx(fixtureDir)
    const timings = new Map<ScenarioResult['scenario'], CurlTiming[]>()
    const add = (scenario: ScenarioResult['scenario'], timing: CurlTiming): void => {
      timings.set(scenario, [...(timings.get(scenario) ?? []), timing])
    }
    let cdnBytesDuringPeerRows = 0
    let byteExact = true
    for (const { path } of files) {
      const file = hub.file(REPO, path)
      const url = (): string => hub.signedUrl(REPO, path)
      add('direct', await timedDownload(url(), size, { signal }))
      add('cold node', await timedDownload(url(), size, { proxy: seed.proxyUrl, signal }))
      const served = hub.cdn.bytesServed
      add('remote peer', await timedDownload(url(), size, { proxy: peer.proxyUrl, signal }))
      add('local node', await timedDownload(url(), size, { proxy: peer.proxyUrl, signal }))
      const cache = await clientCacheSeconds(peer.proxyUrl, path, cacheDir, file.sha256)
      add('client cache', { status: 200, bytes: size, ttfb: 0, seconds: cache.seconds })
      byteExact &&= cache.byteExact
      cdnBytesDuringPeerRows += hub.cdn.bytesServed - served
      add('nginx (local limit)', await timedDownload(`${nginx.url}/${relative(fixtureDir, file.localPath)}`, size, { signal }))
      signal.throwIfAborted()
    }
    const scenarios = [...timings].map(([scenario, list]): ScenarioResult => {
      const seconds = median(list.map(timing => timing.seconds))
      return {
        scenario,
        seconds: list.map(timing => round(timing.seconds, 4)),
        ttfbMs: list.map(timing => round(timing.ttfb * 1000, 2)),
        medianSeconds: round(seconds, 4),
        medianMBps: round(size / MB / seconds),
        medianTtfbMs: round(median(list.map(timing => timing.ttfb * 1000)), 2)
      }
    })
    return {
      originCap: capLabel(cap),
      size,
      runs,
      scenarios,
      peakRssMB: { seed: round(await peakRssBytes(seed.child.pid!) / MB), peer: round(await peakRssBytes(peer.child.pid!) / MB) },
      cdnBytesDuringPeerRows,
      byteExact
    }
  } finally {
    await nginx?.stop()
    await Promise.all(started.map(async node => await node.stop()))
    await hub.close()
    await rm(cacheDir, { recursive: true, force: true })
    // Each group's files are fresh content: drop them so 1 GiB runs do not fill the disk.
    await Promise.all(files.map(async file => await rm(hub.file(REPO, file.path).localPath, { force: true })))
  }
}

function report (groups: GroupResult[]): void {
  const rows: Array<Array<string | number>> = [['origin', 'file', 'scenario', 'median s', 'MB/s', 'TTFB ms', 'runs (s)']]
  for (const group of groups) {
    for (const result of group.scenarios) {
      rows.push([group.originCap, sizeLabel(group.size), result.scenario, result.medianSeconds, result.medianMBps,
        result.scenario === 'client cache' ? '-' : result.medianTtfbMs, result.seconds.join(' ')])
    }
  }
  printTable(rows)
  console.log()
  printTable([['origin', 'file', 'peak RSS seed MB', 'peak RSS peer MB', 'CDN bytes in peer rows', 'byte-exact'],
    ...groups.map(group => [group.originCap, sizeLabel(group.size), group.peakRssMB.seed, group.peakRssMB.peer, group.cdnBytesDuringPeerRows, group.byteExact ? 'yes' : 'NO'])])
}

async function chart (groups: GroupResult[], runCount: number): Promise<void> {
  const data = groups.flatMap(group => group.scenarios
    .filter(result => result.scenario !== 'nginx (local limit)')
    .map(result => ({ origin: `origin ${group.originCap}`, file: sizeLabel(group.size), size: group.size, scenario: result.scenario, seconds: result.medianSeconds })))
  await writeSvgChart(values.chart, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Damselfly: Hugging Face download scenarios (median seconds, lower is better)', subtitle: `fake Hub on loopback, ${runCount} run(s) each` },
    data: { values: data },
    facet: { column: { field: 'origin', type: 'nominal', title: null, sort: [...new Set(groups.map(group => `origin ${group.originCap}`))] } },
    spec: {
      width: 360,
      height: 260,
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'file', type: 'ordinal', title: 'file size', sort: { field: 'size' }, axis: { labelAngle: 0 } },
        xOffset: { field: 'scenario', type: 'nominal', sort: [...SCENARIOS] },
        y: { field: 'seconds', type: 'quantitative', title: 'seconds' },
        color: { field: 'scenario', type: 'nominal', sort: [...SCENARIOS], title: 'scenario' }
      }
    },
    resolve: { scale: { y: 'independent' } }
  })
}

async function main (): Promise<void> {
  if (values.from !== undefined) {
    const earlier = JSON.parse(await readFile(values.from, 'utf8')) as { runs: number, groups: GroupResult[] }
    report(earlier.groups)
    await chart(earlier.groups, earlier.runs)
    console.log(`wrote ${values.chart}`)
    return
  }
  const machineAtStart = machineInfo()
  const fixtureDir = await tempDir('damselfly-bench-fixtures-')
  const stopping = new AbortController()
  // Ctrl-C: abort the running downloads and let the finally blocks stop nodes and nginx and
  // remove the files.
  const onSignal = (): void => { stopping.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const groups: GroupResult[] = []
  try {
    for (const cap of caps) {
      for (const size of sizes) {
        if (stopping.signal.aborted) throw new Error('interrupted')
        console.error(`origin ${capLabel(cap)}, ${sizeLabel(size)}, ${runs} run(s)…`)
        const group = await runGroup(cap, size, fixtureDir, stopping.signal)
        groups.push(group)
        // Written after every group, so that a run cut short still leaves what it measured.
        await writeJson(values.out, { date: new Date().toISOString(), machine: machineAtStart, runs, partial: true, groups })
        for (const result of group.scenarios) console.error(`  ${result.scenario}: ${result.seconds.join(' ')} s`)
      }
    }
  } finally {
    await rm(fixtureDir, { recursive: true, force: true })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  console.log(`MB = 10^6 bytes; ${runs} run(s) per row, a fresh file per run; curl to /dev/null, curl's own clock`)
  report(groups)
  await writeJson(values.out, { date: new Date().toISOString(), machine: { ...machineAtStart, loadAverageAtEnd: machineInfo().loadAverage }, runs, groups })
  console.log(`wrote ${values.out}`)
  await chart(groups, runs)
  console.log(`wrote ${values.chart}`)
  if (!groups.every(group => group.byteExact && group.cdnBytesDuringPeerRows === 0)) {
    console.log('FAIL: a copy was not byte-exact, or a peer row went to the CDN')
    process.exitCode = 1
  }
}

await main()
