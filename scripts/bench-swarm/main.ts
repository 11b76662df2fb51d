/**
 * bench-swarm — N hosts start cold at the same moment and all want the same file.
 *
 * Builds a testbed of network namespaces (scripts/lib/netns.ts): an origin host running the fake
 * Hub + CDN (dist/scripts/fake-hub.js) whose upload is capped at u_s, and N hosts whose links
 * are capped at u up and d down (tc tbf), plus an uncapped management network through which an
 * upload sampler (sampler.ts, in the router namespace) reads every node's /metrics. For each N
 * and each of --runs K it runs the --modes rounds, each on fresh nodes:
 *   swarm   every host runs a node (`damselfly start --role seed`, bootstrapped through host 0;
 *           the nodes elect among themselves who fetches from the origin) and curl through it;
 *   direct  every host's curl fetches from the origin itself.
 * All clients start at the same moment and follow the Hub's resolve URL to the CDN, as
 * huggingface_hub does. Measured: the time until each host has the whole file (sha256 checked
 * afterwards), the bytes the CDN served, each node's peak RSS, the CPU of every process in the
 * round (round.ts), each node's upload over time (upload-trace.ts), and what each host received
 * ÷ the file with the piece bytes wasted (received.ts). The yardstick is the
 * fluid-model lower bound T* (bound.ts). Variants: --slow-host (host N-1 uploads at 1 MB/s) and
 * --kill-half (a node SIGKILLed once the nodes hold half of the N copies). Issue 12's targets.
 *
 * Needs root and iproute2. Namespaces are named dmsb<pid>-…; they are removed on exit, on
 * SIGINT/SIGTERM, and (when their run's process is gone) at the start of the next run.
 *
 *   node dist/scripts/bench-swarm.js [--hosts 2,4,8] [--runs 3] [--size 64MiB] [--slow-host]
 *     [--kill-half [--kill-seed]] [--modes swarm,direct] [--out results/bench-swarm.json] [--smoke] …
 *   (`--help` lists every option)
 */
import '../../src/polyfill.js'
import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../../test/helpers/nodes.js'
import { machineInfo } from '../lib/machine.js'
import { createTestbed, netnsUnavailable, removeStaleNamespaces, type Testbed } from '../lib/netns.js'
import { writeJson } from '../lib/report.js'
import { round } from '../lib/stats.js'
import { lowerBoundSeconds } from './bound.js'
import { writeCompletionChart, writeUploadChart, type ChartRates } from './charts.js'
import { startOrigin, writeAdminToken } from './nodes.js'
import { settings } from './options.js'
import { figureName, printRuns, printSummary } from './report.js'
import { runRound, type RoundResult } from './round.js'
import { receivedFigures } from './received.js'

const MB = 1e6

interface Report {
  date: string
  size: number
  rates: { originUp: number, hostUp: number, hostDown: number, slowHostUp: number | null }
  /** How the run was made (absent in reports written before --runs). */
  options?: { hosts: number[], runs: number, modes: string[], killHalf: boolean, killSeed?: boolean, sampleMs: number, roundTimeoutSeconds: number }
  results: RoundResult[]
}

function rates (report: Pick<Report, 'size' | 'rates'>): ChartRates {
  return { size: report.size, ...report.rates }
}

async function printAndDraw (report: Report): Promise<void> {
  const { size, rates: { originUp, hostUp, hostDown, slowHostUp } } = report
  console.log(`file ${round(size / MB)} MB (MB = 10^6 bytes); origin up u_s = ${round(originUp / MB)} MB/s; each host up u = ${round(hostUp / MB)} MB/s` +
    `${slowHostUp === null ? '' : `, one host (slow) up ${round(slowHostUp / MB, 2)} MB/s`}, down d = ${round(hostDown / MB)} MB/s`)
  console.log('T* = max(F/u_s, F/d, N·F/(u_s + Σu)); origin × file = bytes the CDN served / file size')
  console.log('node CPU s = user+sys of every node in the round; nodes: machine = that ÷ (wall × cores); machine busy = all processes, from /proc/stat; saturated = the share of the --sample-ms intervals of the round in which the machine was ≥ 90 % busy (where it is not near 0, the CPU bound part of the round)')
  console.log('upload use = bytes a host uploaded until its client finished ÷ (its u × that time), mean over hosts; node: its upload counter, link: the wire')
  console.log('swarm upload use = (hosts\' + origin\'s upload until the last host finished) ÷ ((u_s + Σu) × that time)')
  console.log('received ÷ file = bytes a host\'s link carried down in the round ÷ F, median / max over hosts; wasted = piece bytes the nodes received to no use (damselfly_peer_bytes_wasted_total), all hosts, MB and ÷ F')
  if (report.results[0] !== undefined) console.log(`figure (× T*): ${figureName(report.results[0])}`)
  console.log('\nEvery run:')
  printRuns(report.results)
  console.log('\nMedian and [range] over the runs:')
  printSummary(report.results)
  await writeCompletionChart(settings.chart, report.results, rates(report))
  console.log(`wrote ${settings.chart}`)
  if (await writeUploadChart(settings.uploadChart, report.results, rates(report))) console.log(`wrote ${settings.uploadChart}`)
}

/** A report as read back: one written before --runs, the traces and the variants lacks their fields. */
function normalize (report: Report): Report {
  const slowHostUp = report.rates.slowHostUp ?? null
  return {
    ...report,
    rates: { ...report.rates, slowHostUp },
    results: report.results.map(result => {
      const hostUps = result.hostUps ?? Array.from({ length: result.hosts }, () => report.rates.hostUp)
      const bound = result.lowerBoundSeconds ?? round(lowerBoundSeconds({ size: report.size, originUp: report.rates.originUp, hostUps, hostDown: report.rates.hostDown }), 3)
      return {
        ...result,
        hostUps,
        lowerBoundSeconds: bound,
        run: result.run ?? 1,
        slowHost: result.slowHost ?? null,
        killed: result.killed ?? null,
        overBound: result.overBound ?? (result.lastHostSeconds === null ? null : round(result.lastHostSeconds / bound, 3)),
        upload: result.upload ?? null,
        // Reports written before it: received ÷ file from the trace's link counts (no wasted count).
        received: result.received ?? (result.trace === null || result.trace === undefined ? null : receivedFigures(result.trace.hosts, report.size, result.killed?.host)),
        trace: result.trace ?? null
      }
    })
  }
}

async function main (): Promise<void> {
  if (settings.from !== undefined) {
    await printAndDraw(normalize(JSON.parse(await readFile(settings.from, 'utf8')) as Report))
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
  /** Data dirs of the running nodes, removed by the signal handler (their stop() will not run). */
  const nodeDirs = new Set<string>()
  const stopping = new AbortController()
  let testbed: Testbed | undefined
  const work = await tempDir('damselfly-bench-swarm-')
  // On a signal: kill what runs inside the namespaces, delete them, then leave. The node
  // processes are SIGKILLed by spawnNode's own exit hook, the curls by their round's abort.
  const onSignal = (name: NodeJS.Signals): void => {
    stopping.abort()
    for (const child of children) child.kill('SIGKILL')
    testbed?.destroy()
    for (const folder of [work, ...nodeDirs]) rmSync(folder, { recursive: true, force: true })
    console.error(`bench-swarm: ${name}, namespaces removed`)
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const report: Report = {
    date: new Date().toISOString(),
    size: settings.size,
    rates: { originUp: settings.originUp, hostUp: settings.hostUp, hostDown: settings.hostDown, slowHostUp: settings.slowHostUp ?? null },
    options: { hosts: settings.counts, runs: settings.runs, modes: settings.modes, killHalf: settings.killHalf, killSeed: settings.killSeed, sampleMs: settings.sampleMs, roundTimeoutSeconds: settings.timeoutSeconds },
    results: []
  }
  try {
    testbed = await createTestbed({ hosts: Math.max(...settings.counts), originUp: settings.originUp, hostUp: settings.hostUp, hostDown: settings.hostDown })
    const origin = await startOrigin(testbed.origin, settings.size, join(work, 'fixtures'), children)
    const adminTokenFile = await writeAdminToken(work)
    for (const hosts of settings.counts) {
      for (let run = 1; run <= settings.runs; run++) {
        for (const mode of settings.modes) {
          console.error(`N = ${hosts}, ${mode}, run ${run} of ${settings.runs}…`)
          const result = await runRound({
            mode, run, hosts: testbed.hosts.slice(0, hosts), origin: testbed.origin, originProcess: origin.child, router: testbed.router,
            info: origin.info, settings, outDir: work, adminTokenFile, children, nodeDirs, signal: stopping.signal
          })
          report.results.push(result)
          console.error(`  ${figureName(result)}: ${result.overBound ?? 'unfinished'} (last ${result.lastHostSeconds ?? '-'} s), origin served ${result.originBytesPerFile}× the file` +
            `${result.killed === null ? '' : `, host ${result.killed.host}${result.killed.elected === true ? ' (an elected seed)' : result.killed.elected === false ? ' (not elected)' : ''} killed at ${result.killed.atSeconds} s`}`)
          // Written after every round, so that a run cut short still leaves what it measured.
          await writeJson(settings.out, { ...report, machine: machineAtStart, partial: true })
        }
      }
    }
  } finally {
    for (const child of children) child.kill('SIGKILL')
    testbed?.destroy()
    // A round that failed has stopped its nodes; their folders may be left when it could not.
    for (const folder of [work, ...nodeDirs]) await rm(folder, { recursive: true, force: true })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  await writeJson(settings.out, { ...report, machine: { ...machineAtStart, loadAverageAtEnd: machineInfo().loadAverage } })
  console.log(`wrote ${settings.out}`)
  await printAndDraw(report)
  if (!report.results.every(result => result.byteExact && result.unfinishedHosts === 0)) {
    console.log('FAIL: a host\'s copy was not byte-exact, or a host did not finish')
    process.exitCode = 1
  }
}

await main()
