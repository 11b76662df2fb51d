/**
 * Load: many concurrent clients against one node (its own process), mixing hits, misses and
 * ranges; every body is checked against the expected bytes. Zero wrong bytes, zero transport
 * errors, the node alive afterwards, its peak RSS bounded. The default size keeps `npm test`
 * short on a shared machine; LOAD_CLIENTS / LOAD_REQUESTS raise it, and
 * `node dist/scripts/bench-load.js` runs the full 200 × 10,000 and reports the numbers.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { loadRepoInit, runLoad } from './helpers/load-run.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'

const clients = Number(process.env.LOAD_CLIENTS ?? 200)
const requests = Number(process.env.LOAD_REQUESTS ?? 2000)

describe(`load: ${clients} clients, ${requests} requests against one node`, () => {
  let hub: FakeHub
  let node: NodeProcess

  before(async () => {
    hub = await startFakeHub({ repos: [loadRepoInit()] })
    node = await spawnNode()
  })

  after(async () => {
    await node?.stop()
    await hub?.close()
  })

  it('serves every hit, miss and range byte-exact, stays up and keeps its memory bounded', async () => {
    const result = await runLoad(hub, { proxyUrl: node.proxyUrl, pid: node.info.pid }, { clients, requests, seed: 6 })
    console.log(`load: ${result.requests} requests by ${result.clients} clients in ${result.seconds.toFixed(1)} s ` +
      `(${result.requestsPerSecond.toFixed(0)} req/s, ${(result.bytes / 1024 / 1024).toFixed(0)} MiB checked), ` +
      `${result.misses} misses, ${result.ranges} ranges, ${result.retried} resent after an idle close, peak RSS ${result.peakRssMiB.toFixed(0)} MiB, statuses ${JSON.stringify(result.statuses)}`)
    assert.deepEqual(result.wrongExamples, [])
    assert.equal(result.wrong, 0)
    assert.deepEqual(result.errorExamples, [], node.stderr().slice(-3000))
    assert.equal(result.errors, 0)
    assert.equal(node.child.exitCode, null, node.stderr().slice(-2000))
    assert.equal((await fetch(`http://${node.info.admin}/healthy`)).status, 200)
    // Each file came from the origin about once, however many clients asked for it at once.
    const catalogBytes = loadRepoInit().files.reduce((sum, file) => sum + file.size, 0)
    assert.ok(result.originBytes <= 1.5 * catalogBytes, `the origin served ${result.originBytes} bytes for a ${catalogBytes}-byte catalog`)
    // Issue 2's bar for a node serving large files: memory does not grow with the load.
    assert.ok(result.peakRssMiB < 400, `peak RSS ${result.peakRssMiB} MiB`)
  })
})
