import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { access, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl, type DownloadResult } from './helpers/clients.js'
import { spawnNode, startNode, tempDir, type NodeProcess, type RunningNode } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless } from './helpers/system-tools.js'
import { flipByte } from './helpers/disk-faults.js'

const MiB = 1024 * 1024

function taskIdOf (sha256: string): string {
  return createHash('sha256').update(`sha256:${sha256}`).digest('hex')
}

async function exists (path: string): Promise<boolean> {
  return await access(path).then(() => true, () => false)
}

/** What "no complete corrupt body" means to a user: the transfer failed or came up short. */
function assertRefused (result: DownloadResult, size: number, sha256: string): void {
  assert.notEqual(result.sha256, sha256)
  assert.ok(result.error !== undefined || result.status >= 400, `the client must see a failure, got ${result.status} with ${result.bytes} bytes`)
  assert.ok(result.bytes < size || result.status >= 400, `a complete body was delivered: ${result.bytes} bytes`)
}


describe('an origin whose bytes do not match their sha256', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let node: RunningNode

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/liar', files: [{ path: 'model.bin', size: 20 * MiB + 7 }] }] })
    node = await startNode(['--registry', hub.hubUrl])
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  async function nodeIsUp (): Promise<void> {
    assert.equal((await fetch(`http://${node.info.admin}/healthy`)).status, 200)
  }

  it('never gives a client a complete body, quarantines the copy, refetches and still refuses', async () => {
    const file = hub.file('acme/liar', 'model.bin')
    const id = taskIdOf(file.sha256)
    hub.setFaults({ corruptByteAt: 9 * MiB + 3 })
    try {
      hub.resetStats()
      // Two clients at once on the proxy path, one on the mirror path.
      const first = await Promise.all([
        curl(hub.signedUrl('acme/liar', 'model.bin'), { proxy: node.proxyUrl }),
        curl(hub.signedUrl('acme/liar', 'model.bin'), { proxy: node.proxyUrl }),
        curl(`${node.proxyUrl}/acme/liar/resolve/main/model.bin`)
      ])
      for (const result of first) assertRefused(result, file.size, file.sha256)
      await nodeIsUp()
      // Clients are cut at once; the copy is moved aside once the download has closed its files.
      await waitFor('the bad copy to be moved aside', async () => await exists(join(node.dataDir, 'quarantine', id, 'data')))
      assert.equal(await exists(join(node.dataDir, 'tasks', id)), false, 'and is no longer a task')
      const servedBefore = hub.cdn.bytesServed
      const again = await curl(`${node.proxyUrl}/acme/liar/resolve/main/model.bin`)
      assertRefused(again, file.size, file.sha256)
      assert.ok(hub.cdn.bytesServed >= servedBefore + file.size, 'the second request went back to the origin')
      await nodeIsUp()
    } finally {
      hub.setFaults({})
    }
    // Once the origin mends its ways, the file is served whole and byte-exact.
    const good = await curl(hub.signedUrl('acme/liar', 'model.bin'), { proxy: node.proxyUrl })
    assert.equal(good.error, undefined)
    assert.equal(good.sha256, file.sha256)
    // meta.json is saved when the download's last checkpoint ends, a moment after the client is done.
    const meta = await waitFor('meta.json to record the verified file', async () => {
      const saved = JSON.parse(await readFile(join(node.dataDir, 'tasks', id, 'meta.json'), 'utf8')) as { verified?: boolean, sha256?: string }
      return saved.verified === true ? saved : undefined
    })
    assert.equal(meta.sha256, file.sha256)
  })
})

describe('a piece that rots on disk', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let node: RunningNode

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/rot', files: [{ path: 'weights.bin', size: 24 * MiB }, { path: 'other.bin', size: 12 * MiB }] }] })
    node = await startNode(['--piece-size', String(4 * MiB)])
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  it('is caught on read, refetched alone, and the client still gets the right bytes', async () => {
    const file = hub.file('acme/rot', 'weights.bin')
    const url = hub.signedUrl('acme/rot', 'weights.bin')
    const cold = await curl(url, { proxy: node.proxyUrl })
    assert.equal(cold.sha256, file.sha256)
    const dataPath = join(node.dataDir, 'tasks', taskIdOf(file.sha256), 'data')
    await flipByte(dataPath, 10 * MiB + 12345)
    hub.resetStats()
    const repaired = await curl(url, { proxy: node.proxyUrl })
    assert.equal(repaired.error, undefined)
    assert.equal(repaired.sha256, file.sha256)
    assert.ok(hub.cdn.bytesServed > 0 && hub.cdn.bytesServed <= 4 * MiB + 1, `the origin served ${hub.cdn.bytesServed} bytes: one piece is refetched, not the file`)
    const hit = await curl(url, { proxy: node.proxyUrl })
    assert.equal(hit.sha256, file.sha256)
    assert.equal(hit.headers['x-dragonfly-task-download-finished'], 'true')
  })

  it('is caught in a ranged read too', async () => {
    const file = hub.file('acme/rot', 'other.bin')
    const url = hub.signedUrl('acme/rot', 'other.bin')
    assert.equal((await curl(url, { proxy: node.proxyUrl })).sha256, file.sha256)
    const whole = await readFile(file.localPath)
    await flipByte(join(node.dataDir, 'tasks', taskIdOf(file.sha256), 'data'), 5 * MiB)
    const ranged = await curl(url, { proxy: node.proxyUrl, headers: { Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` }, keepBody: true })
    assert.equal(ranged.status, 206)
    assert.deepEqual(ranged.body, whole.subarray(5 * MiB - 10, 5 * MiB + 10))
  })
})

describe('a swarm whose origin lies', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/swarmliar', files: [{ path: 'shard.bin', size: 32 * MiB }] }] })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
  })

  it('the peer refuses the file and scores down the seed that supplied the pieces', async () => {
    const file = hub.file('acme/swarmliar', 'shard.bin')
    const seed = await spawnNode(['--role', 'seed'])
    nodes.push(seed)
    const peer = await spawnNode(['--bootstrap', seed.info.multiaddrs[0]!])
    nodes.push(peer)
    await waitFor('the peer to see the seed', async () => (await nodeStatus(peer.info.admin)).peers.includes(seed.info.peerId))
    hub.setFaults({ corruptByteAt: 20 * MiB })
    // An origin slower than the swarm: the peer takes the pieces from the seed as they land. At
    // loopback speed the seed could finish, fail its own whole-file check and quarantine the file
    // before the peer asked for a piece, and the peer then fetched the lie from the origin itself.
    hub.setBandwidth({ total: 16 * MiB })
    try {
      const result = await curl(hub.signedUrl('acme/swarmliar', 'shard.bin'), { proxy: peer.proxyUrl })
      assertRefused(result, file.size, file.sha256)
    } finally {
      hub.setFaults({})
      hub.setBandwidth({})
    }
    const status = await nodeStatus(peer.info.admin)
    const seedScore = status.peerScores.find(score => score.peerId === seed.info.peerId)
    assert.ok((seedScore?.failures['bad-file'] ?? 0) >= 1, `the seed is scored down: ${JSON.stringify(seedScore)}`)
    assert.ok(!status.bannedPeers.includes(seed.info.peerId), 'but not banned: it passed on what the origin gave it')
    assert.equal((await fetch(`http://${seed.info.admin}/healthy`)).status, 200)
    assert.equal((await fetch(`http://${peer.info.admin}/healthy`)).status, 200)
  })
})

describe('a complete task whose whole-file check never ran (a crash right after the last piece)', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let dataDir: string

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/unchecked', files: [{ path: 'f.bin', size: 9 * MiB }] }] })
    dataDir = await tempDir()
  })

  after(async () => {
    await hub.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('is checked before its final bytes are served', async () => {
    const file = hub.file('acme/unchecked', 'f.bin')
    const metaPath = join(dataDir, 'tasks', taskIdOf(file.sha256), 'meta.json')
    let node = await startNode([], dataDir)
    try {
      assert.equal((await curl(hub.signedUrl('acme/unchecked', 'f.bin'), { proxy: node.proxyUrl })).sha256, file.sha256)
    } finally {
      await node.stop()
    }
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as Record<string, unknown>
    delete meta.verified
    await writeFile(metaPath, JSON.stringify(meta))
    node = await startNode([], dataDir)
    try {
      hub.resetStats()
      const hit = await curl(hub.signedUrl('acme/unchecked', 'f.bin'), { proxy: node.proxyUrl })
      assert.equal(hit.sha256, file.sha256)
      assert.equal(hit.headers['x-dragonfly-task-download-finished'], 'true')
      assert.equal(hub.cdn.bytesServed, 0)
      const status = await nodeStatus(node.info.admin)
      assert.equal(status.tasks[0]?.verified, true)
    } finally {
      await node.stop()
    }
    assert.equal((JSON.parse(await readFile(metaPath, 'utf8')) as { verified?: boolean }).verified, true)
  })
})
