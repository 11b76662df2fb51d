/**
 * Wire version negotiation between real libp2p hosts in this process: a node of this release,
 * another one, and one that speaks only what release 0.1.0 spoke (1.0.0 ids, strict decoding).
 * The served nodes' tasks carry a field no release has yet (as the next wire addition will), so
 * a node that sent it to the old one would be refused.
 */
import '../src/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createP2PHost, type P2PHost } from '../src/p2p/host.js'
import { exchange } from '../src/p2p/exchange.js'
import type { LocalTasks } from '../src/p2p/local-tasks.js'
import type { TaskMetadata } from '../src/p2p/messages.js'
import { protocolId } from '../src/p2p/protocols.js'
import { Swarm } from '../src/p2p/swarm.js'
import { readMessage, writeMessage } from '../src/p2p/wire.js'
import { legacyDialect10, servedDialects } from '../src/p2p/wire-versions.js'
import { silentLogger } from '../src/logging/logger.js'
import { waitFor } from './helpers/wait.js'

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')
const block = Buffer.from('the only block of the only piece'.repeat(100))
const taskId = sha('sha256:' + sha(block))
const meta: TaskMetadata = {
  task: taskId,
  key: 'sha256:' + sha(block),
  length: block.length,
  pieceSize: block.length,
  headers: { 'content-type': 'application/octet-stream' },
  bitmap: 'gA==',
  digests: [sha(block)],
  complete: true
}

/** Tasks that hold one block, and whose metadata has a field that no release knows yet. */
function tasks (): LocalTasks {
  const withFutureField = { ...meta, blockDigests: [[sha(block)]] }
  return {
    metadata: (id) => id === taskId ? withFutureField : undefined,
    readBlock: async (id, piece, offset, length) => id === taskId && piece === 0 && offset + length <= block.length ? { data: Buffer.from(block.subarray(offset, offset + length)), digest: sha(block) } : undefined,
    held: () => [],
    fetchForPeer: async () => withFutureField
  }
}

interface TestNode { host: P2PHost, swarm: Swarm, id: string }

async function startNode (legacy: boolean): Promise<TestNode> {
  const host = await createP2PHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
  const swarm = new Swarm({ host, tasks: tasks(), logger: silentLogger }, { role: 'seed', bootstrap: [], ...(legacy ? { wireDialects: [legacyDialect10] } : {}) })
  await swarm.start()
  return { host, swarm, id: host.peerId.toString() }
}

describe('wire version negotiation: this release and a 0.1.0 node', () => {
  let fresh: TestNode
  let other: TestNode
  let old: TestNode

  before(async () => {
    [fresh, other, old] = await Promise.all([startNode(false), startNode(false), startNode(true)])
    await fresh.host.dial(other.host.getMultiaddrs()[0]!)
    await fresh.host.dial(old.host.getMultiaddrs()[0]!)
    await old.host.dial(other.host.getMultiaddrs()[0]!)
    // Identify tells each node which versions the others speak.
    await waitFor('every node to identify the others', () => [fresh, other, old].every(node => node.swarm.connectedPeers().length === 2 && [fresh, other, old].every(peer => peer === node || node.swarm.speaks(peer.id, protocolId('meta', '1.0.0')))))
  })

  after(async () => {
    for (const node of [fresh, other, old]) {
      await node?.swarm.stop()
      await node?.host.stop()
    }
  })

  it('serves every version’s ids; the old node only 1.0.0', () => {
    const ours = ['meta', 'piece', 'fetch'].flatMap(name => [`/damselfly/${name}/1.1.0`, `/damselfly/${name}/1.0.0`])
    for (const id of ours) assert.ok(fresh.host.getProtocols().includes(id), id)
    assert.deepEqual(old.host.getProtocols().filter(id => id.startsWith('/damselfly/') && !id.startsWith('/damselfly/kad/')).sort(), ['/damselfly/fetch/1.0.0', '/damselfly/meta/1.0.0', '/damselfly/piece/1.0.0'])
  })

  it('the dialer offers newest first and speaks the version agreed', async () => {
    const agreed = async (to: TestNode): Promise<string> => await exchange(fresh.host, to.host.peerId, 'meta', servedDialects, 1024 * 1024, AbortSignal.timeout(10_000), async (bytes, dialect) => {
      await writeMessage(bytes, dialect, 'metaRequest', { task: taskId })
      await readMessage(bytes, dialect, 'metaResponse')
      return dialect.version
    })
    assert.equal(await agreed(other), '1.1.0')
    assert.equal(await agreed(old), '1.0.0')
  })

  it('this release asks the old node: metadata, a block and a fetch', async () => {
    const signal = AbortSignal.timeout(10_000)
    assert.deepEqual(await fresh.swarm.meta(old.id, taskId, signal), meta)
    const received = await fresh.swarm.block(old.id, { task: taskId, piece: 0, offset: 0, length: block.length }, signal)
    assert.equal(sha(Buffer.from(received!.data.subarray())), sha(block))
    assert.deepEqual(await fresh.swarm.fetchFromSeed(old.id, { task: taskId, key: meta.key, url: 'https://example.test/f', headers: {}, share: { elected: [old.id] } }, signal), { ok: true, meta })
  })

  it('the old node asks this release, and its strict decoding accepts every answer', async () => {
    const signal = AbortSignal.timeout(10_000)
    assert.deepEqual(await old.swarm.meta(fresh.id, taskId, signal), meta)
    const holders = await old.swarm.findHolders(taskId, signal)
    assert.deepEqual(holders.map(holder => holder.peer).sort(), [fresh.id, other.id].sort())
    for (const holder of holders) assert.deepEqual(holder.meta, meta)
    const received = await old.swarm.block(fresh.id, { task: taskId, piece: 0, offset: 0, length: block.length }, signal)
    assert.equal(sha(Buffer.from(received!.data.subarray())), sha(block))
    assert.deepEqual(await old.swarm.fetchFromSeed(fresh.id, { task: taskId, key: meta.key, url: 'https://example.test/f', headers: {} }, signal), { ok: true, meta })
  })

  it('two nodes of this release speak 1.1.0 and drop the field they do not know', async () => {
    assert.deepEqual(await fresh.swarm.meta(other.id, taskId, AbortSignal.timeout(10_000)), meta)
  })

  it('gossip flows both ways between the versions', async () => {
    const heardByOld: string[] = []
    const heardByNew: string[] = []
    const stopOld = old.swarm.onHave(taskId, (peer) => { heardByOld.push(peer) })
    const stopNew = fresh.swarm.onHave(taskId, (peer) => { heardByNew.push(peer) })
    try {
      // The first messages after a subscription reach nobody until the mesh forms: say it again until heard.
      await waitFor('the old node to hear a have from this release', () => {
        fresh.swarm.announceHave(taskId, [0], [sha(block)])
        return heardByOld.includes(fresh.id)
      })
      await waitFor('this release to hear a have from the old node', () => {
        old.swarm.announceHave(taskId, [0], [sha(block)])
        return heardByNew.includes(old.id)
      })
    } finally {
      stopOld()
      stopNew()
    }
  })
})
