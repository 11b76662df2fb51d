import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'

const MiB = 1024 * 1024

describe('blocks from a peer are readable as they land (cut-through)', () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/cut', files: [{ path: 'big.bin', size: 32 * MiB }] }] })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
  })

  it('a client gets verified bytes of a piece before the peer holds that piece', async () => {
    const file = hub.file('acme/cut', 'big.bin')
    const url = hub.signedUrl('acme/cut', 'big.bin')
    // 16 MiB pieces; the holder serves peers at 2 MiB/s, so a piece takes seconds to arrive whole.
    const holder = await spawnNode(['--piece-size', String(16 * MiB), '--upload-rate', '2MiB'])
    nodes.push(holder)
    assert.equal((await curl(url, { proxy: holder.proxyUrl })).sha256, file.sha256)
    const peer = await spawnNode(['--piece-size', String(16 * MiB), '--bootstrap', holder.info.multiaddrs[0]!])
    nodes.push(peer)
    await waitFor('the peer to see the holder', async () => (await nodeStatus(peer.info.admin)).peers.includes(holder.info.peerId))
    hub.resetStats()
    const ranged = await curl(url, { proxy: peer.proxyUrl, headers: { Range: 'bytes=0-1023' }, keepBody: true })
    // Read at once: had the client waited for the whole piece, piece 0 would be held by now.
    const status = await nodeStatus(peer.info.admin)
    assert.equal(ranged.status, 206)
    assert.deepEqual(ranged.body, (await readFile(file.localPath)).subarray(0, 1024))
    assert.equal(hub.cdn.bytesServed, 0, 'the bytes came from the holder')
    assert.equal(status.tasks[0]?.held, 0, 'no piece was whole when the client got its bytes')
  })
})
