import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, tempDir, type NodeProcess } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { freePort } from './helpers/ports.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024
const run = promisify(execFile)

/** Failed dials of its bootstrap peer a node started with `--log-level debug` has logged so far. */
function failedBootstrapDials (node: NodeProcess): number {
  return node.stderr().split('bootstrap peer not reachable yet').length - 1
}

async function keygen (path: string): Promise<void> {
  await run(process.execPath, [join(repoRoot(), 'bin', 'damselfly.js'), 'keygen', '-o', path])
}

describe('a private swarm (PSK)', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let folder: string
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/private-net', files: [{ path: 'huge.bin', size: 1024 * MiB }] }] })
    folder = await tempDir()
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
    await rm(folder, { recursive: true, force: true })
  })

  it('keeps out nodes without the key and moves 1 GiB byte-exact between nodes with it', async () => {
    const key = join(folder, 'swarm.key')
    const otherKey = join(folder, 'other.key')
    await keygen(key)
    await keygen(otherKey)
    assert.equal((await stat(key)).mode & 0o777, 0o600)
    const seed = await spawnNode(['--role', 'seed', '--psk-file', key])
    nodes.push(seed)
    const member = await spawnNode(['--psk-file', key, '--bootstrap', seed.info.multiaddrs[0]!])
    const stranger = await spawnNode(['--psk-file', otherKey, '--bootstrap', seed.info.multiaddrs[0]!, '--log-level', 'debug'])
    const open = await spawnNode(['--bootstrap', seed.info.multiaddrs[0]!, '--log-level', 'debug'])
    nodes.push(member, stranger, open)
    await waitFor('the member to join', async () => (await nodeStatus(member.info.admin)).peers.includes(seed.info.peerId))
    // The outsiders keep redialling: two rounds of each must have failed.
    await waitFor('two failed dials by each outsider', () => failedBootstrapDials(stranger) >= 2 && failedBootstrapDials(open) >= 2, 30_000)
    for (const outsider of [stranger, open]) {
      assert.deepEqual((await nodeStatus(outsider.info.admin)).peers, [], 'a node without the key must not connect')
    }
    assert.ok(!(await nodeStatus(seed.info.admin)).peers.includes(stranger.info.peerId))

    const file = hub.file('acme/private-net', 'huge.bin')
    hub.resetStats()
    const first = await curl(hub.signedUrl('acme/private-net', 'huge.bin'), { proxy: member.proxyUrl })
    assert.equal(first.sha256, file.sha256)
    assert.ok(hub.cdn.bytesServed <= file.size * 1.05)
    const memberStatus = await nodeStatus(member.info.admin)
    const task = memberStatus.tasks[0]
    // The bytes crossed the protected connection. The rate-based origin fallback may still take a
    // piece or two from this loopback origin, far faster than a relay through a loaded seed; the
    // CDN's total above bounds it.
    assert.equal((task?.bytesFromPeers ?? 0) + (task?.bytesFromOrigin ?? 0), file.size)
    assert.ok((task?.bytesFromPeers ?? 0) >= file.size * 0.9, `only ${task?.bytesFromPeers} of ${file.size} bytes came over the protected connection`)
  })
})

describe('nodes started in any order', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []
  const folders: string[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/order', files: [{ path: 'f.bin', size: 32 * MiB }] }] })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
    await Promise.all(folders.map(async folder => await rm(folder, { recursive: true, force: true })))
  })

  it('find each other when the bootstrap node comes up last', async () => {
    // Learn the bootstrap node's identity, then start everyone else before it.
    const seedDir = await tempDir()
    folders.push(seedDir)
    const port = await freePort()
    const listen = ['--role', 'seed', '--p2p-listen', `/ip4/127.0.0.1/tcp/${port}`]
    const firstRun = await spawnNode(listen, seedDir)
    const seedId = firstRun.info.peerId
    await firstRun.stop()
    const bootstrap = `/ip4/127.0.0.1/tcp/${port}/p2p/${seedId}`
    const peers = await Promise.all([0, 1].map(async () => await spawnNode(['--bootstrap', bootstrap, '--log-level', 'debug'])))
    nodes.push(...peers)
    await waitFor('each peer to have found no bootstrap node', () => peers.every(peer => failedBootstrapDials(peer) >= 1), 30_000)
    const seed = await spawnNode(listen, seedDir)
    nodes.push(seed)
    for (const peer of peers) {
      await waitFor('a peer to reach the late bootstrap node', async () => (await nodeStatus(peer.info.admin)).peers.includes(seedId), 30_000)
    }
    await waitFor('the peers to find each other', async () => (await nodeStatus(peers[0]!.info.admin)).peers.includes(peers[1]!.info.peerId), 30_000)
    const file = hub.file('acme/order', 'f.bin')
    hub.resetStats()
    const results = await Promise.all(peers.map(async peer => await curl(hub.signedUrl('acme/order', 'f.bin'), { proxy: peer.proxyUrl })))
    for (const result of results) assert.equal(result.sha256, file.sha256)
    assert.ok(hub.cdn.bytesServed <= file.size * 1.1, `CDN served ${(hub.cdn.bytesServed / file.size).toFixed(2)}× the file`)
  })
})
