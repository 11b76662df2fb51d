import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { fetchThroughProxy } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'

const MiB = 1024 * 1024

/**
 * Issue 12's slow host at the smallest scale: the only seed, elected, fetches the file from the
 * origin at once but uploads at a crawl (`--upload-rate`). The peer must not wait on it: once it
 * has measured the seed far slower than its own share of the origin, it fetches those pieces
 * from the origin itself (origin fallback from rates, docs/scale.md drop-in 3). Bytes only:
 * the seed alone would need over a minute, the test's own timeout is what a broken fallback hits.
 */
describe('a peer whose only holder is an elected seed uploading at a crawl', () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/slow-seed', files: [{ path: 'model.bin', size: 16 * MiB }] }] })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
  })

  it('takes what the seed holds back from the origin: byte-exact, the origin serving at most twice the file', { timeout: 90_000 }, async () => {
    const file = hub.file('acme/slow-seed', 'model.bin')
    const flags = ['--piece-size', '256KiB']
    // 16 MiB at 200 KiB/s: 80 s from the seed alone; a 256 KiB piece from it, 1.3 s.
    const seed = await spawnNode(['--role', 'seed', '--upload-rate', String(200 * 1024), ...flags])
    nodes.push(seed)
    const peer = await spawnNode(['--bootstrap', seed.info.multiaddrs[0]!, ...flags])
    nodes.push(peer)
    await waitFor('the peer to see the seed', async () => (await nodeStatus(peer.info.admin)).peers.includes(seed.info.peerId), 30_000)
    hub.resetStats()
    const result = await fetchThroughProxy(hub.signedUrl('acme/slow-seed', 'model.bin'), { proxy: peer.proxyUrl })
    assert.equal(result.error, undefined)
    assert.equal(result.status, 200)
    assert.equal(result.sha256, file.sha256)
    const [seedTask] = (await nodeStatus(seed.info.admin)).tasks
    const [peerTask] = (await nodeStatus(peer.info.admin)).tasks
    // The seed was elected and fetched the file for the swarm; the peer took some from it and
    // the rest from the origin.
    assert.equal(seedTask?.bytesFromOrigin, file.size)
    assert.ok((peerTask?.bytesFromOrigin ?? 0) > 0, 'the peer never went to the origin')
    assert.ok((peerTask?.bytesFromPeers ?? 0) > 0, 'the peer took nothing from the seed')
    // Each piece at most once per node, and the probes' bytes.
    assert.ok(hub.cdn.bytesServed <= file.size * 2 + 1024, `CDN served ${(hub.cdn.bytesServed / file.size).toFixed(3)}× the file`)
  })
})
