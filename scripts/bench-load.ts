/**
 * bench-load — one node under many concurrent clients (issue 6's load bar).
 *
 * Starts the fake Hub with 24 small (1-256 KiB) and 8 medium (0.5-3 MiB) files and one node in
 * its own process, then `--clients` concurrent HTTP clients send `--requests` requests through
 * the proxy: 40 % whole files, 30 % single ranges, 15 % suffix ranges, 15 % open-ended ranges;
 * a file the node has not seen is brought in every requests/files requests, so misses keep
 * coming all through the run. Every body is checked against the sha256 of the expected slice.
 * Reports the request rate, bytes checked, wrong bodies, transport errors, requests resent after
 * an idle keep-alive close, the bytes the origin served and the node's peak RSS (VmHWM).
 * Decided from it: the bar is zero wrong bytes and zero errors; memory stays flat: peak RSS at
 * most 250 MB (issue 14; the run exits 1 above --max-rss-mb). It was 300-360 MB while each
 * response read into a fresh 1 MiB buffer per write and hits hashed with another 1 MiB; one
 * reused buffer of at most 256 KiB per response brought it to ~210 MB (docs/operations.md,
 * "Memory"). The load average is reported beside it.
 *
 *   node dist/scripts/bench-load.js [--clients 200] [--requests 10000] [--seed 6] [--max-rss-mb 250] [--out results/bench-load.json]
 */
import '../src/polyfill.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { dirname } from 'node:path'
import { scriptArgs } from './lib/args.js'
import { startFakeHub } from '../test/fixtures/fake-hub/index.js'
import { loadRepoInit, runLoad } from '../test/helpers/load-run.js'
import { spawnNode } from '../test/helpers/nodes.js'

const values = scriptArgs({
  name: 'bench-load',
  summary: 'One node under many concurrent clients: hits, misses and ranges, every body sha256-checked; reports errors, the request rate and the node\'s peak RSS.',
  options: {
    clients: { type: 'string', default: '200', valueName: 'N', description: 'concurrent HTTP clients (connections)' },
    requests: { type: 'string', default: '10000', valueName: 'N', description: 'requests in all' },
    seed: { type: 'string', default: '6', valueName: 'N', description: 'seed of the request mix' },
    out: { type: 'string', default: 'results/bench-load.json', valueName: 'FILE', description: 'where the JSON report goes' },
    /** Issue 14's bar. */
    'max-rss-mb': { type: 'string', default: '250', valueName: 'MB', description: 'exit 1 when the node\'s peak RSS is above this' }
  }
})
const maxRssMB = Number(values['max-rss-mb'])

const hub = await startFakeHub({ repos: [loadRepoInit()] })
// RSS depends on the load far less than time does, but a starved node keeps more in flight.
const loadBefore = loadavg()[0]!
const node = await spawnNode()
try {
  const result = await runLoad(hub, { proxyUrl: node.proxyUrl, pid: node.info.pid }, {
    clients: Number(values.clients),
    requests: Number(values.requests),
    seed: Number(values.seed)
  })
  const loadAfter = loadavg()[0]!
  const peakRssMB = result.peakRssMiB * 1024 * 1024 / 1e6
  const alive = node.child.exitCode === null && (await fetch(`http://${node.info.admin}/healthy`)).status === 200
  const rows: Array<[string, string | number]> = [
    ['clients', result.clients],
    ['requests', result.requests],
    ['seconds', result.seconds.toFixed(1)],
    ['requests/s', result.requestsPerSecond.toFixed(0)],
    ['MiB checked', (result.bytes / 1024 / 1024).toFixed(0)],
    ['misses (new files)', result.misses],
    ['range requests', result.ranges],
    ['statuses', JSON.stringify(result.statuses)],
    ['wrong bodies', result.wrong],
    ['transport errors', result.errors],
    ['resent after idle close', result.retried],
    ['origin MiB', (result.originBytes / 1024 / 1024).toFixed(1)],
    ['peak RSS MiB (VmHWM)', result.peakRssMiB.toFixed(0)],
    [`peak RSS MB (bar ${maxRssMB})`, peakRssMB.toFixed(0)],
    ['RSS at end MiB', result.endRssMiB.toFixed(0)],
    ['node alive', String(alive)],
    ['load average before/after', `${loadBefore.toFixed(1)} / ${loadAfter.toFixed(1)} (${cpus().length} cores)`]
  ]
  for (const [name, value] of rows) console.log(`${name.padEnd(26)} ${value}`)
  for (const example of [...result.wrongExamples, ...result.errorExamples]) console.log(`  ${example}`)
  await mkdir(dirname(values.out), { recursive: true })
  await writeFile(values.out, JSON.stringify({ date: new Date().toISOString(), alive, ...result, peakRssMB, maxRssMB, loadAverage: { before: loadBefore, after: loadAfter, cores: cpus().length } }, null, 2) + '\n')
  if (result.wrong > 0 || result.errors > 0 || !alive || peakRssMB > maxRssMB) process.exitCode = 1
} finally {
  await node.stop()
  await hub.close()
}
