import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

describe('a seed killed while a peer downloads from it', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/seeddies', files: [{ path: 'big.bin', size: 96 * MiB + 11 }] }] })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
  })

  it('the peer finishes byte-exact from the origin and stays up', async () => {
    const file = hub.file('acme/seeddies', 'big.bin')
    const seed = await spawnNode(['--role', 'seed'])
    nodes.push(seed)
    const peer = await spawnNode(['--bootstrap', seed.info.multiaddrs[0]!])
    nodes.push(peer)
    await waitFor('the peer to see the seed', async () => (await nodeStatus(peer.info.admin)).peers.includes(seed.info.peerId))
    // Slow enough that the seed dies with most of the file still to come.
    hub.setBandwidth({ total: 24 * MiB })
    try {
      hub.resetStats()
      const download = curl(hub.signedUrl('acme/seeddies', 'big.bin'), { proxy: peer.proxyUrl })
      await waitFor('the peer to take pieces from the seed', async () => ((await nodeStatus(peer.info.admin)).tasks[0]?.bytesFromPeers ?? 0) > 0, 30_000)
      seed.child.kill('SIGKILL')
      await seed.exited
      hub.setBandwidth({})
      const result = await download
      assert.equal(result.error, undefined)
      assert.equal(result.sha256, file.sha256)
    } finally {
      hub.setBandwidth({})
    }
    const status = await nodeStatus(peer.info.admin)
    assert.ok((status.tasks[0]?.bytesFromPeers ?? 0) > 0, 'part of the file came from the seed')
    assert.ok((status.tasks[0]?.bytesFromOrigin ?? 0) > 0, 'the rest came from the origin')
    assert.equal(status.tasks[0]?.verified, true)
    assert.equal((await fetch(`http://${peer.info.admin}/healthy`)).status, 200)
  })
})

describe('a signed URL that expires while its download runs', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let node: NodeProcess

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/expiring', files: [{ path: 'slow.bin', size: 48 * MiB }] }] })
    node = await spawnNode(['--origin-retries', '2', '--origin-retry-delay-ms', '20'])
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  it('cuts the client (never a complete body), stays up, and a fresh URL finishes the file', async () => {
    const file = hub.file('acme/expiring', 'slow.bin')
    hub.setBandwidth({ total: 12 * MiB })
    let cut
    try {
      hub.resetStats()
      cut = await curl(hub.signedUrl('acme/expiring', 'slow.bin', { expiresInSeconds: 2 }), { proxy: node.proxyUrl })
    } finally {
      hub.setBandwidth({})
    }
    assert.ok(cut.error !== undefined, 'the transfer must be reported failed')
    assert.ok(cut.bytes < file.size)
    assert.ok((hub.cdn.statusCounts[403] ?? 0) > 0, 'the origin refused the expired signature')
    assert.equal((await fetch(`http://${node.info.admin}/healthy`)).status, 200)
    const fresh = await curl(hub.signedUrl('acme/expiring', 'slow.bin'), { proxy: node.proxyUrl })
    assert.equal(fresh.error, undefined)
    assert.equal(fresh.sha256, file.sha256)
  })
})
