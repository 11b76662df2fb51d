/**
 * bench-memory — a node's memory while it serves large files.
 *
 * Measures the peak RSS of one node process (its own process, started with the installed
 * command) while four curl clients download 1 GiB files through its proxy at once, in three
 * scenarios: the same uncached file (one origin download shared by four), four hits of that
 * file, and four different uncached files. Also reports aggregate throughput and checks every
 * copy's sha256. Issue 2's bar: peak RSS under 250 MB. What was decided from it: pieces stream
 * disk → socket in 1 MiB reads with back-pressure, origin bodies are written in 512 KiB batches;
 * nothing holds a file, so RSS stays flat whatever the file size.
 *
 *   node dist/scripts/bench-memory.js [--size 1GiB] [--clients 4] [--max-rss-mb 250] [--out results/bench-memory.json]
 */
import '../src/polyfill.js'
import { readFile, mkdir, writeFile, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { scriptArgs } from './lib/args.js'
import { parseByteSize } from '../src/config/index.js'
import { startFakeHub, type FakeHub } from '../test/fixtures/fake-hub/index.js'
import { curl, type DownloadResult } from '../test/helpers/clients.js'
import { spawnNode, type NodeProcess } from '../test/helpers/nodes.js'

interface ScenarioResult {
  scenario: string
  clients: number
  bytes: number
  seconds: number
  aggregateMBps: number
  peakRssMB: number
  originBytes: number
  byteExact: boolean
}

const values = scriptArgs({
  name: 'bench-memory',
  summary: 'A node\'s peak RSS while curl clients download large files through it: one shared uncached file, hits, different uncached files.',
  options: {
    size: { type: 'string', default: '1GiB', valueName: 'SIZE', description: 'size of each file' },
    clients: { type: 'string', default: '4', valueName: 'N', description: 'curl clients at once' },
    out: { type: 'string', default: 'results/bench-memory.json', valueName: 'FILE', description: 'where the JSON report goes' },
    /** Issue 2's bar. */
    'max-rss-mb': { type: 'string', default: '250', valueName: 'MB', description: 'exit 1 when a scenario\'s peak RSS is above this' }
  }
})
const size = parseByteSize(values.size)
const clients = Number(values.clients)
const MB = 1e6

/** Samples VmRSS every 25 ms until stopped; returns the largest value seen, in bytes. */
function sampleRss (pid: number): () => Promise<number> {
  let peak = 0
  let running = true
  const loop = (async () => {
    while (running) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
      const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0)
      peak = Math.max(peak, kib * 1024)
      await new Promise(resolve => setTimeout(resolve, 25))
    }
  })()
  return async () => {
    running = false
    await loop
    return peak
  }
}

async function scenario (name: string, hub: FakeHub, node: NodeProcess, paths: string[]): Promise<ScenarioResult> {
  hub.resetStats()
  const stop = sampleRss(node.child.pid!)
  const started = performance.now()
  const results: DownloadResult[] = await Promise.all(paths.map(async path =>
    await curl(hub.signedUrl('bench/memory', path), { proxy: node.proxyUrl })))
  const seconds = (performance.now() - started) / 1000
  const peak = await stop()
  const byteExact = results.every((result, index) => result.error === undefined && result.sha256 === hub.file('bench/memory', paths[index]!).sha256)
  const bytes = results.reduce((sum, result) => sum + result.bytes, 0)
  return {
    scenario: name,
    clients: paths.length,
    bytes,
    seconds: round(seconds),
    aggregateMBps: round(bytes / MB / seconds),
    peakRssMB: round(peak / MB),
    originBytes: hub.cdn.bytesServed,
    byteExact
  }
}

function round (value: number): number {
  return Math.round(value * 10) / 10
}

async function main (): Promise<void> {
  // file-0 is shared by every client; file-1..N are one per client for the distinct scenario.
  const files = Array.from({ length: clients + 1 }, (_, index) => ({ path: `file-${index}.bin`, size }))
  const hub = await startFakeHub({ repos: [{ id: 'bench/memory', files }] })
  const node = await spawnNode()
  const idle = await sampleRss(node.child.pid!)()
  try {
    const shared = Array.from({ length: clients }, () => 'file-0.bin')
    const results = [
      await scenario(`${clients} clients, same uncached file`, hub, node, shared),
      await scenario(`${clients} clients, hits`, hub, node, shared),
      await scenario(`${clients} clients, ${clients} uncached files`, hub, node, files.slice(1).map(file => file.path))
    ]
    const widths = [34, 8, 10, 12, 14, 14, 10]
    const row = (cells: Array<string | number>): string => cells.map((cell, index) => String(cell).padEnd(widths[index] ?? 10)).join(' ')
    console.log(`node idle RSS: ${round(idle / MB)} MB; file size ${round(size / MB)} MB`)
    console.log(row(['scenario', 'seconds', 'MB/s', 'peak RSS MB', 'origin MB', 'byte-exact']))
    for (const result of results) {
      console.log(row([result.scenario, result.seconds, result.aggregateMBps, result.peakRssMB, round(result.originBytes / MB), result.byteExact ? 'yes' : 'NO']))
    }
    await mkdir(dirname(values.out), { recursive: true })
    await writeFile(values.out, JSON.stringify({ date: new Date().toISOString(), size, clients, idleRssMB: round(idle / MB), results }, null, 2) + '\n')
    console.log(`wrote ${values.out}`)
    if (!results.every(result => result.byteExact)) process.exitCode = 1
    const limit = Number(values['max-rss-mb'])
    const over = results.filter(result => result.peakRssMB > limit)
    if (over.length > 0) {
      console.log(`FAIL: peak RSS above ${limit} MB in: ${over.map(result => result.scenario).join('; ')}`)
      process.exitCode = 1
    } else {
      console.log(`peak RSS within ${limit} MB in every scenario`)
    }
  } finally {
    const dataDir = node.dataDir
    await node.stop()
    await rm(dataDir, { recursive: true, force: true })
    await hub.close()
  }
}

await main()
