/**
 * A swarm halfway through a rolling upgrade: nodes of this release beside old ones. Real node
 * processes, the fake Hub, curl as the client. Each way round, the download is byte-exact, every
 * byte comes from the other kind of node, and the origin serves the file once.
 *
 * The old nodes are, by default, this build told to speak only what release 0.1.0 spoke
 * (DAMSELFLY_TEST_WIRE=1.0.0: the 1.0.0 protocol ids and 0.1.0's strict decoding,
 * src/p2p/wire-versions.ts; test/wire-compat.test.ts proves those schemas are 0.1.0's own
 * source). That costs nothing and needs no git history, so `npm test` runs it everywhere.
 * With DAMSELFLY_OLD_RELEASE=<commit> (1baaa71 is release 0.1.0) the old nodes are that
 * commit's real build instead (test/helpers/old-release.ts: git archive + tsc with this
 * checkout's node_modules, about 15 s of CPU, cached in the temp folder): the honest old binary,
 * for CI's long run.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { buildRelease } from './helpers/old-release.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'

const MiB = 1024 * 1024
const oldRelease = process.env.DAMSELFLY_OLD_RELEASE

async function sees (node: NodeProcess, other: NodeProcess): Promise<void> {
  await waitFor(`${node.info.peerId} to meet ${other.info.peerId}`, async () => (await nodeStatus(node.info.admin)).peers.includes(other.info.peerId))
}

describe(`a swarm halfway through an upgrade (old nodes: ${oldRelease === undefined ? 'DAMSELFLY_TEST_WIRE=1.0.0' : `the build of ${oldRelease}`})`, () => {
  let hub: FakeHub
  let oldBin: string | undefined
  const nodes: NodeProcess[] = []

  before(async () => {
    if (oldRelease !== undefined) oldBin = await buildRelease(oldRelease)
    hub = await startFakeHub({
      repos: [{
        id: 'acme/upgrade',
        files: [{ path: 'old-serves-new.bin', size: 24 * MiB + 123 }, { path: 'new-serves-old.bin', size: 24 * MiB + 456 }, { path: 'mixed.bin', size: 40 * MiB + 789 }]
      }]
    })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub?.close()
  })

  async function start (flags: string[], old: boolean): Promise<NodeProcess> {
    const node = !old
      ? await spawnNode(flags)
      : oldBin === undefined ? await spawnNode(flags, undefined, { DAMSELFLY_TEST_WIRE: '1.0.0' }) : await spawnNode(flags, undefined, {}, [], oldBin)
    nodes.push(node)
    return node
  }

  async function download (node: NodeProcess, path: string): Promise<{ fromPeers: number }> {
    const file = hub.file('acme/upgrade', path)
    const result = await curl(hub.signedUrl('acme/upgrade', path), { proxy: node.proxyUrl })
    assert.equal(result.error, undefined)
    assert.equal(result.status, 200)
    assert.equal(result.sha256, file.sha256, `${path} through ${node.info.peerId} is byte-exact`)
    const taskId = createHash('sha256').update(`sha256:${file.sha256}`).digest('hex')
    const task = (await nodeStatus(node.info.admin)).tasks.find(entry => entry.id === taskId)
    return { fromPeers: task?.bytesFromPeers ?? 0 }
  }

  /** The seed's download plus its 1-byte length probe (OriginClient.probe), nothing more. */
  function assertOnce (size: number): void {
    assert.ok(hub.cdn.bytesServed >= size && hub.cdn.bytesServed <= size + 1, `the origin served ${hub.cdn.bytesServed} bytes of a ${size}-byte file`)
  }

  it('an old seed serves a new peer: fetch and pieces over the 1.0.0 ids', async () => {
    const oldSeed = await start(['--role', 'seed'], true)
    const newPeer = await start(['--bootstrap', oldSeed.info.multiaddrs[0]!], false)
    await sees(newPeer, oldSeed)
    const file = hub.file('acme/upgrade', 'old-serves-new.bin')
    hub.resetStats()
    const { fromPeers } = await download(newPeer, 'old-serves-new.bin')
    assert.equal(fromPeers, file.size, 'every byte came from the old seed')
    assertOnce(file.size)
    assert.ok((await nodeStatus(oldSeed.info.admin)).uploadedBytes >= file.size)
  })

  it('a new seed serves an old peer: the old node accepts every answer', async () => {
    const newSeed = await start(['--role', 'seed'], false)
    const oldPeer = await start(['--bootstrap', newSeed.info.multiaddrs[0]!], true)
    await sees(oldPeer, newSeed)
    const file = hub.file('acme/upgrade', 'new-serves-old.bin')
    hub.resetStats()
    const { fromPeers } = await download(oldPeer, 'new-serves-old.bin')
    assert.equal(fromPeers, file.size, 'every byte came from the new seed')
    assertOnce(file.size)
    assert.ok((await nodeStatus(newSeed.info.admin)).uploadedBytes >= file.size)
  })

  it('old and new peers download at once and trade pieces: byte-exact, the origin serves about once', async () => {
    const seed = await start(['--role', 'seed'], false)
    const peers = await Promise.all([true, false, true, false].map(async old => await start(['--bootstrap', seed.info.multiaddrs[0]!], old)))
    await Promise.all(peers.map(async peer => await sees(peer, seed)))
    const file = hub.file('acme/upgrade', 'mixed.bin')
    hub.resetStats()
    const results = await Promise.all(peers.map(async peer => await download(peer, 'mixed.bin')))
    assert.ok(hub.cdn.bytesServed <= file.size * 1.1, `the origin served ${(hub.cdn.bytesServed / file.size).toFixed(2)}× the file`)
    for (const result of results) assert.equal(result.fromPeers, file.size, 'every peer took every byte from the swarm')
    const uploaded = await Promise.all(peers.map(async peer => (await nodeStatus(peer.info.admin)).uploadedBytes))
    // Which peer serves which is up to the picker; each way round is pinned by the tests above.
    assert.ok(uploaded.some(bytes => bytes > 0), `peers traded pieces among themselves: ${uploaded.join(', ')}`)
  })
})
