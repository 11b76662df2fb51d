/**
 * bench-hit — how fast a node serves a cache hit (the file already complete on its disk).
 *
 * Starts a fake Hub and one node (its own process, loopback), fetches the file once cold, then
 * times `--runs` hits with curl writing to /dev/null (after one untimed warm-up hit): MB/s and TTFB by
 * curl's own clock. Written for issue 6 to measure what
 * verifying pieces on read costs on the hit path: run it before and after, compare the medians.
 * Also reports the node process's CPU seconds per GiB served (Linux /proc), which a busy machine
 * distorts far less than wall-clock throughput.
 *
 *   node dist/scripts/bench-hit.js [--size 1GiB] [--runs 5] [--out results/bench-hit.json]
 */
import '../src/polyfill.js'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { scriptArgs } from './lib/args.js'
import { parseByteSize } from '../src/config/index.js'
import { startFakeHub } from '../test/fixtures/fake-hub/index.js'
import { curl } from '../test/helpers/clients.js'
import { timedDownload } from './lib/timed-curl.js'
import { spawnNode } from '../test/helpers/nodes.js'

const values = scriptArgs({
  name: 'bench-hit',
  summary: 'How fast a node serves a cache hit: one cold download, then --runs hits timed with curl, and the node\'s CPU seconds per GiB.',
  options: {
    size: { type: 'string', default: '1GiB', valueName: 'SIZE', description: 'size of the file' },
    runs: { type: 'string', default: '5', valueName: 'N', description: 'timed hits' },
    out: { type: 'string', default: 'results/bench-hit.json', valueName: 'FILE', description: 'where the JSON report goes' }
  }
})
const size = parseByteSize(values.size)
const runs = Number(values.runs)

/** User + system CPU seconds of a process so far (Linux). */
async function cpuSeconds (pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ')
  // After the command name: state is field 3, utime 14 and stime 15 (1-based), in clock ticks.
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The process's peak resident set (VmHWM), MiB (Linux). */
async function peakRssMiB (pid: number): Promise<number> {
  const match = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? 0) / 1024
}

const hub = await startFakeHub({ repos: [{ id: 'bench/hit', files: [{ path: 'f.bin', size }] }] })
const node = await spawnNode()
try {
  const url = hub.signedUrl('bench/hit', 'f.bin')
  const cold = await curl(url, { proxy: node.proxyUrl, discard: true })
  if (cold.error !== undefined || cold.bytes !== size) throw new Error(`cold download failed: ${cold.error ?? `${cold.bytes} bytes`}`)
  const hit = await curl(url, { proxy: node.proxyUrl, discard: true })
  if (hit.error !== undefined || hit.bytes !== size || hit.headers['x-dragonfly-task-download-finished'] !== 'true') throw new Error(`hit failed: ${hit.error ?? `${hit.bytes} bytes`}`)
  const mbps: number[] = []
  const ttfbMs: number[] = []
  const cpuPerGiB: number[] = []
  for (let run = 0; run < runs; run++) {
    const cpuBefore = await cpuSeconds(node.child.pid!)
    // curl's own clock: TTFB is its time_starttransfer (the first byte of the answer).
    const timing = await timedDownload(url, size, { proxy: node.proxyUrl })
    mbps.push(size / 1e6 / timing.seconds)
    ttfbMs.push(timing.ttfb * 1000)
    cpuPerGiB.push((await cpuSeconds(node.child.pid!) - cpuBefore) / (size / 2 ** 30))
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
  const rss = await peakRssMiB(node.child.pid!)
  console.log('| hit runs (MB/s) | median MB/s | TTFB ms (runs) | median | node CPU s per GiB (runs) | median | node peak RSS MiB |\n|---|---|---|---|---|---|---|')
  console.log(`| ${mbps.map(value => value.toFixed(0)).join(', ')} | ${median(mbps).toFixed(0)} | ${ttfbMs.map(value => value.toFixed(1)).join(', ')} | ${median(ttfbMs).toFixed(1)} | ${cpuPerGiB.map(value => value.toFixed(2)).join(', ')} | ${median(cpuPerGiB).toFixed(2)} | ${rss.toFixed(0)} |`)
  await mkdir(dirname(values.out), { recursive: true })
  await writeFile(values.out, JSON.stringify({ size, runs: mbps, medianMBps: median(mbps), ttfbMs, medianTtfbMs: median(ttfbMs), cpuSecondsPerGiB: cpuPerGiB, medianCpuSecondsPerGiB: median(cpuPerGiB), peakRssMiB: rss }, null, 2) + '\n')
} finally {
  await node.stop()
  await hub.close()
}
