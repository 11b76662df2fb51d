/**
 * Rate limits with real nodes and the fake Hub: the request rate (429 + Retry-After), the cap on
 * concurrent downloads (429), and the byte rates from the origin and to peers. Byte rates are
 * checked as lower bounds on duration and through the node's own counters, never as exact
 * timings: a busy machine may only make transfers slower.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl, fetchThroughProxy } from './helpers/clients.js'
import { startNode, type RunningNode } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024
const repo = 'acme/rates'

interface LimitStatus {
  rateLimited: Record<string, { bytesPerSecond: number, bytes: number }>
  tasks: Array<{ status: string, bytesFromOrigin: number, bytesFromPeers: number }>
}

describe('rate limits', () => {
  let hub: FakeHub

  before(async () => {
    hub = await startFakeHub({
      repos: [{ id: repo, files: [{ path: 'paced.bin', size: 8 * MiB }, { path: 'slow.bin', size: 8 * MiB }, { path: 'other.bin', size: 2 * MiB }, { path: 'shared.bin', size: 8 * MiB + 1 }] }]
    })
  })

  after(async () => {
    await hub.close()
  })

  it('answers 429 with Retry-After once a client passes the request rate, and serves it again later', async () => {
    const node = await startNode(['--request-rate', '2'])
    try {
      const api = `${hub.hubUrl}/api/models/${repo}`
      const results = await Promise.all(Array.from({ length: 8 }, async () => await fetchThroughProxy(api, { proxy: node.proxyUrl })))
      const limited = results.filter(result => result.status === 429)
      assert.ok(limited.length >= 4, `only ${limited.length} of 8 requests were limited: ${results.map(r => r.status).join(',')}`)
      assert.ok(results.some(result => result.status === 200))
      for (const result of limited) {
        assert.equal(result.headers['x-dragonfly-error-type'], 'proxy')
        assert.equal(result.headers['x-damselfly-error-code'], 'ERR_RATE_LIMITED')
        assert.ok(Number(result.headers['retry-after']) >= 1)
      }
      await sleep(Number(limited[0]!.headers['retry-after']) * 1000)
      assert.equal((await fetchThroughProxy(api, { proxy: node.proxyUrl })).status, 200)
    } finally {
      await node.stop()
    }
  })

  it('paces back-to-source bytes: 8 MiB at 4 MiB/s takes at least 1.5 s, byte-exact', { skip: skipUnless('curl') }, async () => {
    const node = await startNode(['--origin-rate', '4MiB'])
    try {
      const file = hub.file(repo, 'paced.bin')
      hub.resetStats()
      const started = performance.now()
      const result = await curl(hub.signedUrl(repo, 'paced.bin'), { proxy: node.proxyUrl })
      const seconds = (performance.now() - started) / 1000
      assert.equal(result.sha256, file.sha256)
      assert.ok(seconds >= 1.5, `8 MiB came from the origin in ${seconds.toFixed(2)} s, faster than 4 MiB/s allows`)
      const status = await nodeStatus(node.info.admin) as unknown as LimitStatus
      assert.equal(status.rateLimited.origin?.bytesPerSecond, 4 * MiB)
      assert.ok((status.rateLimited.origin?.bytes ?? 0) >= file.size, 'every origin byte went through the limit')
      assert.ok(hub.cdn.bytesServed <= file.size * 1.05)
    } finally {
      await node.stop()
    }
  })

  it('caps concurrent downloads with 429, while hits and joins still go through', { skip: skipUnless('curl') }, async () => {
    const node = await startNode(['--max-concurrent-tasks', '1', '--origin-rate', '4MiB'])
    try {
      const slow = curl(hub.signedUrl(repo, 'slow.bin'), { proxy: node.proxyUrl })
      await waitFor('the first download to start', async () => (await nodeStatus(node.info.admin)).tasks.some(task => task.status === 'downloading'))
      const refused = await curl(hub.signedUrl(repo, 'other.bin'), { proxy: node.proxyUrl })
      assert.equal(refused.status, 429)
      assert.equal(refused.headers['x-damselfly-error-code'], 'ERR_TOO_MANY_TASKS')
      assert.ok(Number(refused.headers['retry-after']) >= 1)
      const joined = await curl(hub.signedUrl(repo, 'slow.bin'), { proxy: node.proxyUrl })
      assert.equal(joined.sha256, hub.file(repo, 'slow.bin').sha256, 'a second client of the running download is not refused')
      assert.equal((await slow).sha256, hub.file(repo, 'slow.bin').sha256)
      await waitFor('the first download to finish', async () => (await nodeStatus(node.info.admin)).tasks.every(task => task.status === 'complete'))
      const later = await curl(hub.signedUrl(repo, 'other.bin'), { proxy: node.proxyUrl })
      assert.equal(later.status, 200)
      assert.equal(later.sha256, hub.file(repo, 'other.bin').sha256)
    } finally {
      await node.stop()
    }
  })

  it('paces what a node uploads to peers: 8 MiB at 4 MiB/s takes at least 1.5 s, and the origin serves it once', { skip: skipUnless('curl') }, async () => {
    let holder: RunningNode | undefined
    let taker: RunningNode | undefined
    try {
      holder = await startNode(['--upload-rate', '4MiB'])
      const file = hub.file(repo, 'shared.bin')
      assert.equal((await curl(hub.signedUrl(repo, 'shared.bin'), { proxy: holder.proxyUrl })).sha256, file.sha256)
      taker = await startNode(['--bootstrap', holder.info.multiaddrs[0]!, '--download-rate', '64MiB'])
      await waitFor('the taker to connect', async () => (await nodeStatus(taker!.info.admin)).peers.includes(holder!.info.peerId))
      hub.resetStats()
      const started = performance.now()
      const result = await curl(hub.signedUrl(repo, 'shared.bin'), { proxy: taker.proxyUrl })
      const seconds = (performance.now() - started) / 1000
      assert.equal(result.sha256, file.sha256)
      assert.equal(hub.cdn.bytesServed, 0, 'the taker got every byte from the holder')
      assert.ok(seconds >= 1.5, `8 MiB came from the peer in ${seconds.toFixed(2)} s, faster than 4 MiB/s allows`)
      const holderStatus = await nodeStatus(holder.info.admin) as unknown as LimitStatus
      assert.ok((holderStatus.rateLimited.upload?.bytes ?? 0) >= file.size)
      const takerStatus = await nodeStatus(taker.info.admin) as unknown as LimitStatus
      assert.ok((takerStatus.rateLimited.download?.bytes ?? 0) >= file.size, 'the taker paced its reads too')
    } finally {
      await taker?.stop()
      await holder?.stop()
    }
  })
})
