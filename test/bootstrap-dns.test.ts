import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { freePort } from './helpers/ports.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

describe('--bootstrap-dns (a name standing for every seed, as a headless Service does)', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/dns', files: [{ path: 'weights.bin', size: 40 * MiB + 17 }] }] })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
  })

  it('a peer started before the seed finds it through the name and downloads from it', async () => {
    const port = await freePort()
    // The peer starts first: the name resolves (localhost) but nobody listens there yet.
    const peer = await spawnNode(['--bootstrap-dns', `localhost:${port}`])
    nodes.push(peer)
    const seed = await spawnNode(['--role', 'seed', '--p2p-listen', `/ip4/127.0.0.1/tcp/${port}`])
    nodes.push(seed)
    await waitFor('the peer to join the seed', async () => (await nodeStatus(peer.info.admin)).peers.includes(seed.info.peerId), 30_000)

    const file = hub.file('acme/dns', 'weights.bin')
    const first = await curl(hub.signedUrl('acme/dns', 'weights.bin'), { proxy: seed.proxyUrl })
    assert.equal(first.sha256, file.sha256)
    hub.resetStats()
    const second = await curl(hub.signedUrl('acme/dns', 'weights.bin'), { proxy: peer.proxyUrl })
    assert.equal(second.error, undefined)
    assert.equal(second.status, 200)
    assert.equal(second.sha256, file.sha256)
    assert.equal(hub.cdn.bytesServed, 0, 'the peer took the file from the seed it found by name')
    const status = await nodeStatus(peer.info.admin)
    assert.equal(status.tasks[0]?.bytesFromPeers, file.size)
  })
})
