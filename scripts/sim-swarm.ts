/**
 * Discrete-event simulation of one file spreading through 1,000–10,000 hosts, driving the real
 * scheduling code (src/scheduling/) over modelled links (scripts/sim/). CPU-bound and
 * deterministic for a given --seed, so its figures are valid on a loaded machine.
 *
 *   node dist/scripts/sim-swarm.js [--hosts 1000,10000] [--policy today,rate] [--churn 0,0.05]
 *     [--out results/sim-swarm.json] [--chart results/sim-swarm.svg]
 *
 * Reports, per run: completion of the median and last host ÷ T* (the fluid lower bound
 * max(F/u_origin, F/min_down, N·F/(u_origin + Σ u_host))), origin bytes ÷ file, and control
 * messages sent per node per second (DHT, gossip, meta). See docs/scale.md.
 */
import { readFile } from 'node:fs/promises'
import { scriptArgs } from './lib/args.js'
import { writeSvgChart } from './lib/charts.js'
import { printTable, writeJson } from './lib/report.js'
import { policyOf, type PolicyName } from './sim/policy.js'
import { simulate, type SimResult } from './sim/swarm-sim.js'
import type { BandwidthProfile } from './sim/hosts.js'

const values = scriptArgs({
  name: 'sim-swarm',
  summary: 'Simulate N hosts fetching one file through the swarm (the real scheduling code over modelled links); report completion ÷ T*, origin bytes and control messages per node per second.',
  options: {
    hosts: { type: 'string', default: '1000,10000', valueName: 'N,N', description: 'host counts to simulate' },
    policy: { type: 'string', default: 'today,rate', valueName: 'P,P', description: 'policies: today (swarm-download.ts now) and/or rate (src/scheduling rate-driven decisions)' },
    churn: { type: 'string', default: '0,0.05', valueName: 'F,F', description: 'fractions of non-seed hosts that leave for good during the run' },
    profile: { type: 'string', default: 'mixed', valueName: 'NAME', description: 'host bandwidth: uniform (5/20 MB/s) or mixed (1–10 up, 5–40 down)' },
    'file-mib': { type: 'string', default: '64', valueName: 'MIB', description: 'file size' },
    'unit-kib': { type: 'string', default: '1024', valueName: 'KIB', description: 'relay unit of the rate policy (blocks grouped; today is always 4 MiB pieces)' },
    degree: { type: 'string', default: '24', valueName: 'K', description: 'connections per host' },
    'seed-degree': { type: 'string', default: '48', valueName: 'K', description: 'extra hosts each seed of the pool is connected to' },
    'seed-pool': { type: 'string', default: '8', valueName: 'S', description: 'seed nodes available (10 MB/s up, 40 down each)' },
    'origin-mbps': { type: 'string', default: '10', valueName: 'MB/S', description: 'origin total upload' },
    'origin-conn-mbps': { type: 'string', default: '2', valueName: 'MB/S', description: 'origin rate per connection' },
    'origin-connections': { type: 'string', default: '4', valueName: 'C', description: 'origin connections per fetching node' },
    'max-tstar': { type: 'string', default: '30', valueName: 'X', description: 'stop a run at this many T*' },
    seed: { type: 'string', default: '1', valueName: 'S', description: 'random seed' },
    out: { type: 'string', default: 'results/sim-swarm.json', valueName: 'FILE', description: 'where the JSON goes' },
    chart: { type: 'string', default: 'results/sim-swarm.svg', valueName: 'FILE', description: 'SVG chart: completion ÷ T* against N' },
    'control-chart': { type: 'string', default: 'results/sim-swarm-control.svg', valueName: 'FILE', description: 'SVG chart: control messages per node per second against N' },
    from: { type: 'string', valueName: 'FILE', description: 'simulate nothing: print the table and draw the charts from this earlier JSON' }
  }
})

const MB = 1000 // bytes per ms in 1 MB/s
const list = (text: string): number[] => text.split(',').map(Number).filter(Number.isFinite)

function report (results: SimResult[]): void {
  const rows: Array<Array<string | number>> = [['N', 'policy', 'churn', 'units', 'seeds', 'T* s', 'median ÷ T*', 'last ÷ T*', 'origin × file', 'control msg/node/s', 'of which have', 'finished', 'left', 'unfinished', 'events', 'wall s']]
  for (const r of results) {
    rows.push([r.hosts, r.policy, r.churn, r.units, r.seeds, (r.tStarMs / 1000).toFixed(2), r.medianRatio.toFixed(2), Number.isFinite(r.lastRatio) ? r.lastRatio.toFixed(2) : '∞', r.originRatio.toFixed(3),
      r.controlPerNodePerS.toFixed(1), r.controlByKind.have.toFixed(1), r.finished, r.departed, r.unfinished, r.events, (r.wallMs / 1000).toFixed(1)])
  }
  printTable(rows)
}

async function charts (results: SimResult[]): Promise<void> {
  const label = (r: SimResult): string => `${r.policy}, churn ${r.churn}`
  const hostsAxis = { field: 'hosts', type: 'quantitative' as const, title: 'hosts (N)', scale: { type: 'log' as const }, axis: { values: [...new Set(results.map(r => r.hosts))], format: 'd' } }
  await writeSvgChart(values.chart, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Simulated swarm: last host to finish ÷ T*', subtitle: `${values['file-mib']} MiB file, ${values.profile} hosts, origin ${values['origin-mbps']} MB/s (${values['origin-conn-mbps']} MB/s per connection); target ≤ 1.3` },
    width: 480,
    height: 300,
    data: { values: results.filter(r => Number.isFinite(r.lastRatio)).map(r => ({ hosts: r.hosts, series: label(r), ratio: r.lastRatio })) },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: hostsAxis,
      y: { field: 'ratio', type: 'quantitative', title: 'last host ÷ T*', scale: { zero: true } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } }
    }
  })
  await writeSvgChart(values['control-chart'], {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Simulated swarm: control messages sent per node per second', subtitle: 'DHT lookups and provides, gossip (have, task, IHAVE), meta requests' },
    width: 480,
    height: 300,
    data: { values: results.map(r => ({ hosts: r.hosts, series: label(r), messages: r.controlPerNodePerS })) },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: hostsAxis,
      y: { field: 'messages', type: 'quantitative', title: 'messages / node / s', scale: { type: 'log' } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } }
    }
  })
}

async function main (): Promise<void> {
  if (values.from !== undefined) {
    const earlier = JSON.parse(await readFile(values.from, 'utf8')) as { results: SimResult[] }
    report(earlier.results)
    await charts(earlier.results)
    console.log(`wrote ${values.chart} and ${values['control-chart']}`)
    return
  }
  const policies = values.policy.split(',').map(name => name.trim()) as PolicyName[]
  for (const name of policies) {
    if (name !== 'today' && name !== 'rate') {
      console.error(`sim-swarm: unknown policy ${name}; use today and/or rate`)
      process.exitCode = 2
      return
    }
  }
  const profile = values.profile as BandwidthProfile
  if (profile !== 'uniform' && profile !== 'mixed') {
    console.error(`sim-swarm: unknown profile ${profile}; use uniform or mixed`)
    process.exitCode = 2
    return
  }
  const results: SimResult[] = []
  const settings = { profile, fileMiB: Number(values['file-mib']), unitKiB: Number(values['unit-kib']), degree: Number(values.degree), seedDegree: Number(values['seed-degree']), seedPool: Number(values['seed-pool']), originMBps: Number(values['origin-mbps']), originConnMBps: Number(values['origin-conn-mbps']), originConnections: Number(values['origin-connections']), seed: Number(values.seed) }
  for (const hosts of list(values.hosts)) {
    for (const churn of list(values.churn)) {
      for (const name of policies) {
        console.error(`N = ${hosts}, ${name}, churn ${churn}…`)
        const result = simulate({
          hosts,
          fileBytes: settings.fileMiB * 1024 * 1024,
          policy: policyOf(name, settings.unitKiB),
          profile,
          degree: settings.degree,
          seedDegree: settings.seedDegree,
          seedPool: settings.seedPool,
          churn,
          seed: settings.seed,
          originTotal: settings.originMBps * MB,
          originPerConnection: settings.originConnMBps * MB,
          originConnections: settings.originConnections,
          maxTStar: Number(values['max-tstar'])
        })
        results.push(result)
        console.error(`  last ÷ T* ${result.lastRatio}, origin ${result.originRatio}× file, ${result.controlPerNodePerS} msg/node/s (${(result.wallMs / 1000).toFixed(1)} s)`)
        await writeJson(values.out, { date: new Date().toISOString(), settings, partial: true, results })
      }
    }
  }
  console.log(`file ${settings.fileMiB} MiB; ${profile} hosts; origin ${settings.originMBps} MB/s total, ${settings.originConnMBps} MB/s per connection; T* = max(F/u_origin, F/min_down, N·F/(u_origin + Σ u))`)
  report(results)
  await writeJson(values.out, { date: new Date().toISOString(), settings, results })
  console.log(`wrote ${values.out}`)
  await charts(results)
  console.log(`wrote ${values.chart} and ${values['control-chart']}`)
}

await main()
