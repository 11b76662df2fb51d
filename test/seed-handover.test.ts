import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { fetchThroughProxy } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'

const MiB = 1024 * 1024

/**
 * Issue 12's "one host SIGKILLed at half time" at the smallest scale: two seeds (both elected,
 * each fetching half of the pieces from the origin) and two peers. One seed is killed while its
 * share is still coming in; the pieces of its share that nobody holds must be fetched once, by
 * the surviving seed, not by every node after the stall rule's ten seconds.
 */
describe('an elected seed killed mid-download', () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/handover', files: [{ path: 'model.bin', size: 32 * MiB }] }] })
  })

  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
  })

  it('its share is handed over: the survivors finish byte-exact and the origin serves the file about once', async () => {
    const file = hub.file('acme/handover', 'model.bin')
    // Small pieces: what the killed seed had half-fetched (origin bytes nobody keeps) stays small.
    const pieceSize = 256 * 1024
    const flags = ['--piece-size', '256KiB', '--origin-concurrency', '2']
    const first = await spawnNode(['--role', 'seed', ...flags])
    nodes.push(first)
    const bootstrap = ['--bootstrap', first.info.multiaddrs[0]!]
    // The seed to be killed fetches its share slowly: the other share is done and spread while
    // this one still comes in, so every node last made progress when it dies (as at half time
    // in issue 12, where a node's own stall rule then sent every node to the origin at once).
    const doomed = await spawnNode(['--role', 'seed', '--origin-rate', String(MiB), ...bootstrap, ...flags])
    nodes.push(doomed)
    const peers = await Promise.all([0, 1].map(async () => await spawnNode([...bootstrap, ...flags])))
    nodes.push(...peers)
    // Everyone must see both seeds, so that both are elected and every node knows it.
    for (const node of [first, ...peers]) {
      await waitFor('every node to see both seeds', async () => {
        const seen = (await nodeStatus(node.info.admin)).peers
        return [first, doomed].every(seed => seed === node || seen.includes(seed.info.peerId))
      }, 30_000)
    }
    hub.resetStats()
    // Slow enough that the kill lands while both shares are still coming in.
    hub.setBandwidth({ total: 8 * MiB })
    const url = hub.signedUrl('acme/handover', 'model.bin')
    const downloads = peers.map(async peer => await fetchThroughProxy(url, { proxy: peer.proxyUrl }))
    const share = file.size / 2
    const task = async (node: NodeProcess): Promise<{ held: number, pieces: number, bytesFromOrigin: number }> => (await nodeStatus(node.info.admin)).tasks[0] ?? { held: 0, pieces: 1, bytesFromOrigin: 0 }
    await waitFor('the surviving seed to fetch its share', async () => (await task(first)).bytesFromOrigin >= share, 30_000)
    await waitFor('the peers to hold that share and some of the other', async () => {
      const held = await Promise.all(peers.map(task))
      return held.every(({ held }) => held >= share / pieceSize + 2)
    }, 30_000)
    doomed.child.kill('SIGKILL')
    await doomed.exited
    // The orphans (most of a half, about 1.6 s at the CDN's rate) must not wait for the stall
    // rule: without the handover nobody fetches them for 10 s after the kill.
    await waitFor('the surviving seed to fetch the orphaned share before the stall rule could', async () => {
      const { held, pieces } = await task(first)
      return held === pieces
    }, 9000)
    const results = await Promise.all(downloads)
    for (const result of results) {
      assert.equal(result.error, undefined)
      assert.equal(result.status, 200)
      assert.equal(result.sha256, file.sha256)
    }
    // The surviving seed holds the whole file too (it fetched the orphans for everyone).
    const survivor = await fetchThroughProxy(url, { proxy: first.proxyUrl })
    assert.equal(survivor.sha256, file.sha256)
    const fromOrigin = await Promise.all(peers.map(async peer => (await task(peer)).bytesFromOrigin))
    assert.ok(hub.cdn.bytesServed <= file.size * 1.05, `CDN served ${(hub.cdn.bytesServed / file.size).toFixed(3)}× the file`)
    // The peers waited for the seed that took the share over.
    assert.deepEqual(fromOrigin, [0, 0])
  })
})
