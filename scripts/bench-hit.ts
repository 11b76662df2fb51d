/**
 * bench-hit — how fast a node serves a cache hit (the file already complete on its disk).
 *
 * Starts a fake Hub and one node (its own process, loopback), fetches the file once cold, then
 * times `--runs` hits with curl writing to /dev/null. Written for issue 6 to measure what
 * verifying pieces on read costs on the hit path: run it before and after, compare the medians.
 *
 *   node dist/scripts/bench-hit.js [--size 1GiB] [--runs 5] [--out results/bench-hit.json]
 */
import '../src/polyfill.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { parseByteSize } from '../src/config/index.js'
import { startFakeHub } from '../test/fixtures/fake-hub/index.js'
import { curl } from '../test/helpers/clients.js'
import { spawnNode } from '../test/helpers/nodes.js'

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    runs: { type: 'string', default: '5' },
    out: { type: 'string', default: 'results/bench-hit.json' }
  }
})
const size = parseByteSize(values.size)
const runs = Number(values.runs)

const hub = await startFakeHub({ repos: [{ id: 'bench/hit', files: [{ path: 'f.bin', size }] }] })
const node = await spawnNode()
try {
  const url = hub.signedUrl('bench/hit', 'f.bin')
  const cold = await curl(url, { proxy: node.proxyUrl, discard: true })
  if (cold.error !== undefined || cold.bytes !== size) throw new Error(`cold download failed: ${cold.error ?? `${cold.bytes} bytes`}`)
  const mbps: number[] = []
  for (let run = 0; run < runs; run++) {
    const started = performance.now()
    const hit = await curl(url, { proxy: node.proxyUrl, discard: true })
    const seconds = (performance.now() - started) / 1000
    if (hit.error !== undefined || hit.bytes !== size || hit.headers['x-dragonfly-task-download-finished'] !== 'true') throw new Error(`hit failed: ${hit.error ?? `${hit.bytes} bytes`}`)
    mbps.push(size / 1e6 / seconds)
  }
  const sorted = [...mbps].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0
  console.log('| hit runs (MB/s) | median MB/s |\n|---|---|')
  console.log(`| ${mbps.map(value => value.toFixed(0)).join(', ')} | ${median.toFixed(0)} |`)
  await mkdir(dirname(values.out), { recursive: true })
  await writeFile(values.out, JSON.stringify({ size, runs: mbps, medianMBps: median }, null, 2) + '\n')
} finally {
  await node.stop()
  await hub.close()
}
