/**
 * Which of the rate policy's decisions matter: the simulator (scripts/sim/) run with today's
 * policy plus one decision at a time, cumulatively, for small swarms like bench-swarm's.
 * Deterministic for a given --seed, so valid on a loaded machine. docs/scale.md has the table.
 *
 *   node dist/scripts/sim-ablation.js [--hosts 8,16] [--unit-kib 4096,1024] [--out results/sim-ablation.json]
 */
import { scriptArgs } from './lib/args.js'
import { printTable, writeJson } from './lib/report.js'
import { policyOf, type Policy } from './sim/policy.js'
import { simulate } from './sim/swarm-sim.js'

const values = scriptArgs({
  name: 'sim-ablation',
  summary: 'Simulate small swarms under today\'s policy plus one rate-policy decision at a time (cumulative); print last host ÷ T* and origin bytes per step.',
  options: {
    hosts: { type: 'string', default: '8,16', valueName: 'N,N', description: 'host counts' },
    'unit-kib': { type: 'string', default: '4096,1024', valueName: 'KIB,KIB', description: 'relay units to compare' },
    'file-mib': { type: 'string', default: '64', valueName: 'MIB', description: 'file size' },
    seed: { type: 'string', default: '1', valueName: 'S', description: 'random seed' },
    out: { type: 'string', default: 'results/sim-ablation.json', valueName: 'FILE', description: 'where the JSON goes' }
  }
})

const MB = 1000 // bytes per ms in one MB/s

/** Each step adds its fields to the ones before it; the first two also stand alone. */
const steps: Array<{ name: string, adds: Partial<Policy>, cumulative: boolean }> = [
  { name: 'today', adds: {}, cumulative: false },
  { name: 'window from rate × rtt (alone)', adds: { fixedWindow: undefined }, cumulative: false },
  { name: 'uploaders refuse beyond a short backlog (alone)', adds: { maxBacklogMs: 500 }, cumulative: true },
  { name: '+ window', adds: { fixedWindow: undefined }, cumulative: true },
  { name: '+ rank by rate', adds: { rankByRate: true }, cumulative: true },
  { name: '+ origin fallback from rates', adds: { fixedStallMs: undefined }, cumulative: true },
  { name: '+ super-seeding', adds: { superSeed: true }, cumulative: true },
  { name: '+ haves straight to neighbours', adds: { haveFlushMs: 20, gossipHaves: false, pollHolders: false }, cumulative: true }
]

const list = (text: string): number[] => text.split(',').map(Number)
const rows: Array<Array<string | number>> = [['step', 'unit KiB', 'N', 'last ÷ T*', 'median ÷ T*', 'origin × file']]
const results: unknown[] = []
for (const unitKiB of list(values['unit-kib'])) {
  for (const hosts of list(values.hosts)) {
    let accumulated: Partial<Policy> = {}
    for (const step of steps) {
      const fields = step.cumulative ? (accumulated = { ...accumulated, ...step.adds }) : step.adds
      const policy: Policy = { ...policyOf('today', unitKiB), ...fields, unitBytes: unitKiB * 1024 }
      const result = simulate({
        hosts,
        fileBytes: Number(values['file-mib']) * 1024 * 1024,
        policy,
        profile: 'uniform',
        degree: 24,
        seedDegree: 48,
        seedPool: 2,
        churn: 0,
        seed: Number(values.seed),
        originTotal: 10 * MB,
        originPerConnection: 10 * MB,
        originConnections: 4,
        maxTStar: 30
      })
      rows.push([step.name, unitKiB, hosts, result.lastRatio, result.medianRatio, result.originRatio])
      results.push({ step: step.name, unitKiB, ...result })
    }
  }
}
printTable(rows)
await writeJson(values.out, { date: new Date().toISOString(), settings: { profile: 'uniform', seedPool: 2, originMBps: 10, seed: Number(values.seed) }, results })
console.log(`wrote ${values.out}`)
