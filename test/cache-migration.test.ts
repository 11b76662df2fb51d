import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { access, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, startNode, tempDir, type NodeProcess } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { flipByte } from './helpers/disk-faults.js'

const MiB = 1024 * 1024

function taskIdOf (sha256: string): string {
  return createHash('sha256').update(`sha256:${sha256}`).digest('hex')
}

/**
 * Turns a task folder into what release 0.1.0 wrote: meta.json without `blockSize` and `roots`
 * (its pieces named only by their whole-piece sha256 in `digests`), and no `blocks` file.
 */
async function toReleaseZeroOneFormat (folder: string): Promise<void> {
  const metaPath = join(folder, 'meta.json')
  const meta = JSON.parse(await readFile(metaPath, 'utf8')) as Record<string, unknown>
  assert.ok(Array.isArray(meta.roots) && meta.blockSize !== undefined, 'this release writes block roots')
  delete meta.roots
  delete meta.blockSize
  await writeFile(metaPath, JSON.stringify(meta))
  await rm(join(folder, 'blocks'))
}


describe('a cache written by release 0.1.0 (no block hashes)', () => {
  let hub: FakeHub
  let dataDir: string

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/old', files: [{ path: 'clean.bin', size: 10 * MiB + 3 }, { path: 'rotten.bin', size: 10 * MiB + 3 }] }] })
    dataDir = await tempDir()
  })

  after(async () => {
    await hub.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('is re-verified before it is served: a clean copy is migrated, a rotten piece is never served but refetched', async () => {
    const clean = hub.file('acme/old', 'clean.bin')
    const rotten = hub.file('acme/old', 'rotten.bin')
    const flags = ['--piece-size', String(4 * MiB)]
    let node = await startNode(flags, dataDir)
    try {
      for (const name of ['clean.bin', 'rotten.bin']) await curl(hub.signedUrl('acme/old', name), { proxy: node.proxyUrl })
    } finally {
      await node.stop()
    }
    const cleanFolder = join(dataDir, 'tasks', taskIdOf(clean.sha256))
    const rottenFolder = join(dataDir, 'tasks', taskIdOf(rotten.sha256))
    await toReleaseZeroOneFormat(cleanFolder)
    await toReleaseZeroOneFormat(rottenFolder)
    // Rot in piece 1 (bytes 4..8 MiB) while the node was down; the old metadata still says verified.
    const rotAt = 5 * MiB + 1234
    await flipByte(join(rottenFolder, 'data'), rotAt)
    const original = await readFile(rotten.localPath)

    node = await startNode(flags, dataDir)
    try {
      hub.resetStats()
      const hit = await curl(hub.signedUrl('acme/old', 'clean.bin'), { proxy: node.proxyUrl })
      assert.equal(hit.sha256, clean.sha256)
      assert.equal(hit.headers['x-dragonfly-task-download-finished'], 'true')
      assert.equal(hub.cdn.bytesServed, 0, 'a clean old copy is served from the cache')
      // Migrated: block hashes saved beside the data, roots in the metadata.
      await waitFor('the clean copy to be migrated', async () => {
        const meta = JSON.parse(await readFile(join(cleanFolder, 'meta.json'), 'utf8')) as { roots?: Array<string | null> }
        const blocks = await access(join(cleanFolder, 'blocks')).then(() => true, () => false)
        return blocks && meta.roots?.every(root => root !== null) === true
      })

      // A small read right at the rotten byte: the client gets the origin's bytes, never the flipped one.
      const ranged = await curl(hub.signedUrl('acme/old', 'rotten.bin'), { proxy: node.proxyUrl, headers: { Range: `bytes=${rotAt - 5}-${rotAt + 5}` }, keepBody: true })
      assert.equal(ranged.status, 206, `the ranged read: ${ranged.error ?? 'no transfer error'}`)
      assert.deepEqual(ranged.body, original.subarray(rotAt - 5, rotAt + 6))
      assert.ok(hub.cdn.bytesServed > 0 && hub.cdn.bytesServed <= 4 * MiB + 1, `the origin served ${hub.cdn.bytesServed} bytes: the rotten piece alone is refetched`)
      const whole = await curl(hub.signedUrl('acme/old', 'rotten.bin'), { proxy: node.proxyUrl })
      assert.equal(whole.sha256, rotten.sha256)
    } finally {
      await node.stop()
    }
  })
})

describe('a seed whose 0.1.0 cache has a rotten piece', () => {
  let hub: FakeHub
  let dataDir: string
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/oldseed', files: [{ path: 'w.bin', size: 12 * MiB }] }] })
    dataDir = await tempDir()
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('never passes the rotten piece to a peer: the peer gets the right bytes and does not ban it', async () => {
    const file = hub.file('acme/oldseed', 'w.bin')
    const flags = ['--piece-size', String(4 * MiB)]
    const writer = await startNode(flags, dataDir)
    try {
      assert.equal((await curl(hub.signedUrl('acme/oldseed', 'w.bin'), { proxy: writer.proxyUrl })).sha256, file.sha256)
    } finally {
      await writer.stop()
    }
    const folder = join(dataDir, 'tasks', taskIdOf(file.sha256))
    await toReleaseZeroOneFormat(folder)
    await flipByte(join(folder, 'data'), 9 * MiB)
    const seed = await spawnNode(flags, dataDir)
    nodes.push(seed)
    const peer = await spawnNode([...flags, '--bootstrap', seed.info.multiaddrs[0]!])
    nodes.push(peer)
    await waitFor('the peer to see the seed', async () => (await nodeStatus(peer.info.admin)).peers.includes(seed.info.peerId))
    hub.resetStats()
    const result = await curl(hub.signedUrl('acme/oldseed', 'w.bin'), { proxy: peer.proxyUrl })
    assert.equal(result.sha256, file.sha256)
    assert.ok(hub.cdn.bytesServed <= 4 * MiB, `the origin served ${hub.cdn.bytesServed} bytes: only the rotten piece`)
    const status = await nodeStatus(peer.info.admin)
    assert.ok(!status.bannedPeers.includes(seed.info.peerId), 'the seed refused the piece rather than sending rot')
    assert.equal(status.tasks[0]?.bytesFromPeers, 8 * MiB, 'the two sound pieces came from the seed')
  })
})
