/**
 * bench-cold — what a cold fetch costs the node, in figures that stay meaningful on a loaded
 * machine: CPU seconds per GiB of the node's main thread, of its busiest other thread (hashing)
 * and of the rest (from /proc/PID/task/TID/stat), the node's peak RSS, and the wall time
 * beside a direct curl (meaningful on a quiet machine only).
 *
 * For each run: a fresh file on the fake CDN, `curl ← node ← CDN` with the node cold, byte
 * count and status checked. `--cpu-prof DIR` starts the node with --cpu-prof (the profile is
 * written when it stops).
 *
 *   node dist/scripts/bench-cold.js [--size 256MiB] [--runs 3] [--cap none|100MB/s]
 *     [--cpu-prof DIR] [--out results/bench-cold.json] [--smoke]
 */
import '../src/polyfill.js'
import { readdir, readFile, rm } from 'node:fs/promises'
import { scriptArgs } from './lib/args.js'
import { parseByteRate, parseByteSize, startFakeHub } from '../test/fixtures/fake-hub/index.js'
import { spawnNode, tempDir } from '../test/helpers/nodes.js'
import { peakRssBytes } from './lib/proc.js'
import { printTable, writeJson } from './lib/report.js'
import { median, round } from './lib/stats.js'
import { timedDownload } from './lib/timed-curl.js'
import { machineInfo } from './lib/machine.js'

const values = scriptArgs({
  name: 'bench-cold',
  summary: 'CPU seconds per GiB of each node thread, and peak RSS, for a cold fetch through the node.',
  options: {
    size: { type: 'string', default: '256MiB', valueName: 'SIZE', description: 'file size' },
    runs: { type: 'string', default: '3', valueName: 'N', description: 'runs (a fresh file each)' },
    cap: { type: 'string', default: 'none', valueName: 'RATE', description: 'the origin\'s rate; none for uncapped' },
    'cpu-prof': { type: 'string', valueName: 'DIR', description: 'write the node\'s --cpu-prof profile here' },
    out: { type: 'string', default: 'results/bench-cold.json', valueName: 'FILE', description: 'where the JSON report goes' },
    smoke: { type: 'boolean', default: false, description: 'a 4 MiB file, one run' }
  }
})

const size = parseByteSize(values.smoke ? '4MiB' : values.size)
const runs = values.smoke ? 1 : Number(values.runs)
const cap = values.cap === 'none' ? undefined : parseByteRate(values.cap)
const GiB = 1024 ** 3
const MB = 1e6
const REPO = 'bench/cold'
const ticks = 100 // USER_HZ

/** CPU seconds (user + system) of each thread of `pid`, keyed by thread id, with its name. */
async function threadTimes (pid: number): Promise<Map<string, { name: string, seconds: number }>> {
  const times = new Map<string, { name: string, seconds: number }>()
  const tids = await readdir(`/proc/${pid}/task`).catch(() => [] as string[])
  for (const tid of tids) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => undefined)
    if (stat === undefined) continue
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    times.set(tid, { name, seconds: (Number(fields[11]) + Number(fields[12])) / ticks })
  }
  return times
}

/**
 * Groups the threads' CPU: the main thread (tid = pid), the busiest other thread (the hashing
 * thread on a cold fetch: every byte is hashed three times there), and all the rest (libuv
 * pool, V8 helpers, further hashing threads). Linux names them all "node", so CPU tells them apart.
 */
function group (pid: number, before: Map<string, { name: string, seconds: number }>, after: Map<string, { name: string, seconds: number }>): Record<string, number> {
  let main = 0
  const others: number[] = []
  for (const [tid, { seconds }] of after) {
    const spent = seconds - (before.get(tid)?.seconds ?? 0)
    if (tid === String(pid)) main += spent
    else others.push(spent)
  }
  others.sort((a, b) => b - a)
  const busiest = others[0] ?? 0
  return { main, 'busiest other thread': busiest, 'all other threads': others.reduce((sum, spent) => sum + spent, 0) - busiest }
}

interface RunResult {
  directSeconds: number
  coldSeconds: number
  cpuSecondsPerGiB: Record<string, number>
  /** Every thread that ran, busiest first (CPU s per GiB), the main thread marked. */
  threads: string[]
}

const fixtureDir = await tempDir('damselfly-bench-cold-')
const files = Array.from({ length: runs }, (_, run) => ({ path: `run${run}.bin`, size, seed: `bench-cold/${run}/${Date.now()}` }))
const hub = await startFakeHub({ repos: [{ id: REPO, files }], fixtureDir, cdnBytesPerSecond: cap })
// --cpu-prof is refused in NODE_OPTIONS: a shell puts it after the node binary, then execs.
const profiler = values['cpu-prof'] === undefined ? [] : ['sh', '-c', 'node="$1"; shift; exec "$node" --cpu-prof --cpu-prof-dir="$PROFILE_DIR" "$@"', 'sh']
const node = await spawnNode(['--registry', hub.hubUrl], undefined, { PROFILE_DIR: values['cpu-prof'] ?? '' }, profiler)
const results: RunResult[] = []
let peakRss = 0
try {
  const pid = node.child.pid!
  for (const { path } of files) {
    const url = hub.signedUrl(REPO, path)
    const direct = await timedDownload(url, size)
    const before = await threadTimes(pid)
    const cold = await timedDownload(hub.signedUrl(REPO, path), size, { proxy: node.proxyUrl })
    const after = await threadTimes(pid)
    const spent = group(pid, before, after)
    results.push({
      directSeconds: direct.seconds,
      coldSeconds: cold.seconds,
      cpuSecondsPerGiB: Object.fromEntries(Object.entries(spent).map(([name, seconds]) => [name, round(seconds * GiB / size, 3)])),
      threads: [...after].map(([tid, { seconds }]) => ({ main: tid === String(pid), perGiB: (seconds - (before.get(tid)?.seconds ?? 0)) * GiB / size }))
        .filter(thread => thread.perGiB > 0).sort((a, b) => b.perGiB - a.perGiB).map(thread => `${thread.main ? 'main ' : ''}${round(thread.perGiB, 2)}`)
    })
  }
  peakRss = await peakRssBytes(pid)
} finally {
  await node.stop()
  await hub.close()
  await rm(fixtureDir, { recursive: true, force: true })
}

const names = Object.keys(results[0]?.cpuSecondsPerGiB ?? {})
const rows: Array<Array<string | number>> = [['run', 'direct MB/s', 'cold MB/s', ...names.map(name => `${name} CPU s/GiB`)]]
results.forEach((result, run) => {
  rows.push([run, round(size / MB / result.directSeconds), round(size / MB / result.coldSeconds), ...names.map(name => result.cpuSecondsPerGiB[name]!)])
})
rows.push(['median', round(size / MB / median(results.map(r => r.directSeconds))), round(size / MB / median(results.map(r => r.coldSeconds))),
  ...names.map(name => median(results.map(r => r.cpuSecondsPerGiB[name]!)))])
printTable(rows)
console.log(`peak RSS ${round(peakRss / MB)} MB`)
console.log(`threads (CPU s/GiB, busiest first, median run): ${results[Math.floor(results.length / 2)]?.threads.join(', ') ?? ''}`)
await writeJson(values.out, { machine: machineInfo(), size, runs, cap: values.cap, results, peakRssMB: round(peakRss / MB) })
