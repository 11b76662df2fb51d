import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

/** Starts `count` peers bootstrapping from `seed` and waits until each sees it. */
async function startPeers (seed: NodeProcess, count: number, extra: string[] = [], env: Record<string, string> = {}): Promise<NodeProcess[]> {
  const peers = await Promise.all(Array.from({ length: count }, async () => await spawnNode(['--bootstrap', seed.info.multiaddrs[0]!, ...extra], undefined, env)))
  await Promise.all(peers.map(async peer => await waitFor('peer to connect to the seed', async () => (await nodeStatus(peer.info.admin)).peers.includes(seed.info.peerId))))
  return peers
}

describe('a seed and four peers', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let seed: NodeProcess
  let peers: NodeProcess[]
  const late: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({
      repos: [{ id: 'acme/swarm', files: [{ path: 'model.bin', size: 128 * MiB + 77 }, { path: 'second.bin', size: 128 * MiB + 333 }] }]
    })
    seed = await spawnNode(['--role', 'seed'])
    peers = await startPeers(seed, 4)
  })

  after(async () => {
    await Promise.all([seed, ...peers, ...late].map(async node => await node.stop()))
    await hub.close()
  })

  it('all four download the same file at once: byte-exact, the origin serves it about once', async () => {
    const file = hub.file('acme/swarm', 'model.bin')
    hub.resetStats()
    const results = await Promise.all(peers.map(async peer => await curl(hub.signedUrl('acme/swarm', 'model.bin'), { proxy: peer.proxyUrl })))
    for (const result of results) {
      assert.equal(result.error, undefined)
      assert.equal(result.status, 200)
      assert.equal(result.sha256, file.sha256)
    }
    assert.ok(hub.cdn.bytesServed <= file.size * 1.1, `CDN served ${(hub.cdn.bytesServed / file.size).toFixed(2)}× the file`)
    const statuses = await Promise.all(peers.map(async peer => await nodeStatus(peer.info.admin)))
    const fromPeers = statuses.reduce((sum, status) => sum + (status.tasks[0]?.bytesFromPeers ?? 0), 0)
    assert.ok(fromPeers >= file.size * 3.5, `peers took ${fromPeers} bytes from the swarm`)
    const uploadedByPeers = statuses.reduce((sum, status) => sum + status.uploadedBytes, 0)
    assert.ok(uploadedByPeers > 0, 'peers must trade pieces among themselves, not only take from the seed')
  })

  it('a late joiner gets a file only peers hold: the CDN serves nothing', async () => {
    const file = hub.file('acme/swarm', 'model.bin')
    const joiner = (await startPeers(peers[0]!, 1))[0]!
    late.push(joiner)
    hub.resetStats()
    const result = await curl(hub.signedUrl('acme/swarm', 'model.bin'), { proxy: joiner.proxyUrl })
    assert.equal(result.sha256, file.sha256)
    assert.equal(hub.cdn.bytesServed, 0)
    assert.equal(hub.cdn.requests, 0)
  })

  it('a peer killed mid-swarm: the others finish byte-exact', async () => {
    const file = hub.file('acme/swarm', 'second.bin')
    hub.setBandwidth({ total: 64 * MiB })
    try {
      const downloads = peers.map(async peer => await curl(hub.signedUrl('acme/swarm', 'second.bin'), { proxy: peer.proxyUrl }))
      await waitFor('a third of the file at the origin', () => hub.cdn.bytesServed > file.size / 3, 30_000)
      peers[0]!.child.kill('SIGKILL')
      const results = await Promise.all(downloads)
      assert.ok(results[0]!.error !== undefined || results[0]!.sha256 !== file.sha256 || results[0]!.bytes === file.size)
      for (const result of results.slice(1)) {
        assert.equal(result.error, undefined)
        assert.equal(result.sha256, file.sha256)
      }
    } finally {
      hub.setBandwidth({})
    }
  })
})

describe('a peer that serves corrupt pieces', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/corrupt', files: [{ path: 'data.bin', size: 64 * MiB }] }] })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
  })

  it('is detected and banned, and the download still finishes byte-exact', async () => {
    const file = hub.file('acme/corrupt', 'data.bin')
    const seed = await spawnNode(['--role', 'seed'])
    nodes.push(seed)
    const [liar] = await startPeers(seed, 1, [], { DAMSELFLY_TEST_CORRUPT_BLOCKS: '1' })
    nodes.push(liar!)
    // The liar gets the file honestly (it only corrupts what it serves).
    const liarCopy = await curl(hub.signedUrl('acme/corrupt', 'data.bin'), { proxy: liar!.proxyUrl })
    assert.equal(liarCopy.sha256, file.sha256)
    const [victim] = await startPeers(seed, 1)
    nodes.push(victim!)
    await waitFor('the victim to meet the liar', async () => (await nodeStatus(victim!.info.admin)).peers.includes(liar!.info.peerId))
    hub.resetStats()
    const result = await curl(hub.signedUrl('acme/corrupt', 'data.bin'), { proxy: victim!.proxyUrl })
    assert.equal(result.error, undefined)
    assert.equal(result.sha256, file.sha256)
    const status = await nodeStatus(victim!.info.admin)
    assert.ok(status.bannedPeers.includes(liar!.info.peerId), 'the liar must be banned')
    assert.ok(!status.bannedPeers.includes(seed.info.peerId))
    assert.equal(hub.cdn.bytesServed, 0, 'the honest seed supplies what the liar spoiled')
  })
})

describe('two elected seeds', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/shares', files: [{ path: 'big.bin', size: 128 * MiB }] }], cdnBytesPerSecondPerConnection: 40 * MiB })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
  })

  it('each fetch their own share of the pieces from the origin', async () => {
    const file = hub.file('acme/shares', 'big.bin')
    const first = await spawnNode(['--role', 'seed'])
    nodes.push(first)
    const [second] = await startPeers(first, 1, ['--role', 'seed'])
    nodes.push(second!)
    const [peer] = await startPeers(first, 1)
    nodes.push(peer!)
    await waitFor('the peer to meet both seeds', async () => (await nodeStatus(peer!.info.admin)).peers.includes(second!.info.peerId))
    hub.resetStats()
    const result = await curl(hub.signedUrl('acme/shares', 'big.bin'), { proxy: peer!.proxyUrl })
    assert.equal(result.sha256, file.sha256)
    const [a, b] = await Promise.all([first, second!].map(async seed => await nodeStatus(seed.info.admin)))
    const shareA = a!.tasks[0]?.bytesFromOrigin ?? 0
    const shareB = b!.tasks[0]?.bytesFromOrigin ?? 0
    assert.ok(shareA >= file.size * 0.3 && shareB >= file.size * 0.3, `seed shares: ${shareA} and ${shareB} of ${file.size}`)
    assert.ok(hub.cdn.bytesServed <= file.size * 1.1, `CDN served ${(hub.cdn.bytesServed / file.size).toFixed(2)}× the file`)
  })
})
