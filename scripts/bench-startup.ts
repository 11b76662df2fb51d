/**
 * bench-startup — what starting one node costs: CPU seconds (user + system, all threads, from
 * /proc/PID/stat) and wall seconds from spawn until the node writes node.json (the readiness
 * signal test/helpers/nodes.ts waits for), median of N starts. Issue 12: the test suite and the
 * scale runs start hundreds of nodes, and almost all of a start is loading modules.
 *
 * Several entry points can be compared (`--bin a.js,b.js`); their runs are interleaved (a, b,
 * a, b, ...) so that a shared machine's load falls on each alike. The load average is printed
 * beside the figures: take numbers for reports on a quiet machine only.
 *
 *   node dist/scripts/bench-startup.js [--runs 5] [--bin bin/damselfly.js] [--out results/bench-startup.json]
 */
import { spawn } from 'node:child_process'
import { readFile, rm, mkdtemp } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { scriptArgs } from './lib/args.js'
import { cpuSeconds } from './lib/proc.js'
import { median, round } from './lib/stats.js'
import { machineInfo } from './lib/machine.js'
import { printTable, writeJson } from './lib/report.js'
import { nodeFlags, tunedEnvironment } from '../src/cli/process-tuning.js'

const values = scriptArgs({
  name: 'bench-startup',
  summary: 'CPU and wall seconds of one node start (spawn until node.json), median of N, entry points interleaved.',
  options: {
    runs: { type: 'string', default: '5', valueName: 'N', description: 'starts per entry point' },
    bin: { type: 'string', default: 'bin/damselfly.js', valueName: 'FILES', description: 'comma-separated entry points to compare, each run as `node FILE start ...`' },
    'node-args': { type: 'string', default: '', valueName: 'ARGS', description: 'space-separated flags for node itself, e.g. --cpu-prof' },
    out: { type: 'string', default: 'results/bench-startup.json', valueName: 'FILE', description: 'where the JSON report goes' }
  }
})

interface Start {
  cpuSeconds: number
  wallSeconds: number
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Starts one node through `bin`, waits for node.json, reads its CPU time, stops it. */
async function startOnce (bin: string, nodeArgs: string[]): Promise<Start> {
  const dataDir = await mkdtemp(join(tmpdir(), 'damselfly-bench-startup-'))
  const flags = [
    '--data-dir', dataDir,
    '--proxy-listen', '127.0.0.1:0',
    '--admin-listen', '127.0.0.1:0',
    '--p2p-listen', '/ip4/127.0.0.1/tcp/0',
    '--data-listen', '127.0.0.1:0',
    '--log-level', 'warn'
  ]
  const began = process.hrtime.bigint()
  const child = spawn(process.execPath, [...nodeFlags, ...nodeArgs, bin, 'start', ...flags], { stdio: ['ignore', 'ignore', 'pipe'], env: tunedEnvironment(process.env) })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<void>(resolve => child.on('exit', () => { resolve() }))
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`node exited with ${child.exitCode}: ${stderr}`)
      if (process.hrtime.bigint() - began > 60_000_000_000n) throw new Error(`node did not write node.json in 60 s: ${stderr}`)
      const ready = await readFile(join(dataDir, 'node.json'), 'utf8').then(text => { JSON.parse(text); return true }, () => false)
      if (ready) break
      await sleep(5)
    }
    const wallSeconds = Number(process.hrtime.bigint() - began) / 1e9
    return { cpuSeconds: await cpuSeconds(child.pid!), wallSeconds }
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
    await rm(dataDir, { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  const runs = Number(values.runs)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, not ${values.runs}`)
  const bins = values.bin.split(',').map(file => resolve(file.trim()))
  const nodeArgs = values['node-args'].split(' ').filter(arg => arg !== '')
  const loadBefore = loadavg()
  const starts = new Map<string, Start[]>(bins.map(bin => [bin, []]))
  for (let run = 0; run < runs; run++) {
    for (const bin of bins) starts.get(bin)!.push(await startOnce(bin, nodeArgs))
  }
  const loadAfter = loadavg()
  const results = bins.map(bin => {
    const list = starts.get(bin)!
    return {
      bin,
      runs,
      medianCpuSeconds: round(median(list.map(start => start.cpuSeconds)), 2),
      medianWallSeconds: round(median(list.map(start => start.wallSeconds)), 2),
      starts: list.map(start => ({ cpuSeconds: round(start.cpuSeconds, 2), wallSeconds: round(start.wallSeconds, 3) }))
    }
  })
  printTable([
    ['entry point', 'runs', 'CPU s (median)', 'wall s (median)', 'CPU s (min-max)'],
    ...results.map(result => {
      const cpu = result.starts.map(start => start.cpuSeconds)
      return [result.bin, result.runs, result.medianCpuSeconds, result.medianWallSeconds, `${Math.min(...cpu)}-${Math.max(...cpu)}`]
    })
  ])
  const load = (values: number[]): string => values.map(value => value.toFixed(2)).join(' ')
  console.log(`load average: ${load(loadBefore)} before, ${load(loadAfter)} after (${machineInfo().cores} cores)`)
  await writeJson(values.out, { date: new Date().toISOString(), machine: machineInfo(), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter, nodeArgs, results })
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error)
  process.exitCode = 1
})
