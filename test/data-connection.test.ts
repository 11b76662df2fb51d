import '../src/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { DataConnection } from '../src/p2p/data-connection/client.js'
import { connectionMagic, deriveKeys } from '../src/p2p/data-connection/keys.js'
import { dataOfferResponse, type DataOfferResponse } from '../src/p2p/data-connection/messages.js'
import { defaultCipher, RecordSealer } from '../src/p2p/data-connection/records.js'
import { encodeFrame } from '../src/p2p/data-connection/frames.js'
import { generatePskKey, parsePskKey, pskProtector } from '../src/p2p/psk/index.js'
import { protocols } from '../src/p2p/protocols.js'
import { readFrame, wire, writeFrame } from '../src/p2p/wire.js'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, startNode, tempDir, type NodeProcess, type RunningNode } from './helpers/nodes.js'
import { freePort } from './helpers/ports.js'
import { parsePrometheusText } from './helpers/prometheus-text.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

/** The sum of a metric's samples whose labels include `labels`. */
async function metric (node: { info: { admin: string } }, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://${node.info.admin}/metrics`)).text()
  const samples = parsePrometheusText(text).get(name)?.samples ?? []
  return samples.filter(sample => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, sample) => sum + sample.value, 0)
}

/** The verified reader's buffers a node took, by outcome; less `since` when given. */
async function blockBuffers (node: { info: { admin: string } }, since = { allocated: 0, reused: 0 }): Promise<{ allocated: number, reused: number }> {
  return {
    allocated: await metric(node, 'damselfly_block_buffers_total', { outcome: 'allocated' }) - since.allocated,
    reused: await metric(node, 'damselfly_block_buffers_total', { outcome: 'reused' }) - since.reused
  }
}

async function startPeer (seed: NodeProcess, extra: string[] = [], env: Record<string, string> = {}): Promise<NodeProcess> {
  const peer = await spawnNode(['--bootstrap', seed.info.multiaddrs[0]!, ...extra], undefined, env)
  await waitFor('the peer to connect to the seed', async () => (await nodeStatus(peer.info.admin)).peers.includes(seed.info.peerId))
  return peer
}

describe('1 GiB over the data connection', () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/big', files: [{ path: 'model.bin', size: GiB + 4099 }] }] })
  })
  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub.close()
  })

  it('moves byte-exact from a seed to a peer, the CDN serving nothing, every block on the data connection', async () => {
    const file = hub.file('acme/big', 'model.bin')
    const seed = await spawnNode(['--role', 'seed'])
    nodes.push(seed)
    const filled = await curl(hub.signedUrl('acme/big', 'model.bin'), { proxy: seed.proxyUrl })
    assert.equal(filled.sha256, file.sha256)
    const peer = await startPeer(seed)
    nodes.push(peer)
    hub.resetStats()
    const buffersBefore = await blockBuffers(seed)
    const result = await curl(hub.signedUrl('acme/big', 'model.bin'), { proxy: peer.proxyUrl })
    assert.equal(result.error, undefined)
    assert.equal(result.status, 200)
    assert.equal(result.sha256, file.sha256)
    assert.equal(hub.cdn.bytesServed, 0)
    // The seed read the blocks it served into memory given back by the blocks sent before.
    const buffers = await blockBuffers(seed, buffersBefore)
    assert.ok(buffers.reused > buffers.allocated, `the seed reused its block buffers (${buffers.reused} reused, ${buffers.allocated} allocated)`)
    // Every block came over the data connection: libp2p piece streams carried none of it.
    assert.equal(await metric(peer, 'damselfly_data_connection_bytes_total', { direction: 'received' }), file.size)
    assert.equal(await metric(seed, 'damselfly_data_connection_bytes_total', { direction: 'sent' }), file.size)
    assert.equal(await metric(peer, 'damselfly_data_connections_total', { outcome: 'failed' }), 0)
    // Both fills landed nearly in order (the seed's from the origin, pieces side by side; the
    // peer's from its one seed): the whole-file sha256 was fed from the blocks as they landed,
    // hardly any byte read back from disk.
    for (const node of [seed, peer]) await assertHashedAsLanded(node, file.size)
  })
})

/** The node's whole-file hash took (nearly) every byte from the blocks as they landed. */
async function assertHashedAsLanded (node: NodeProcess, size: number): Promise<void> {
  const landed = await metric(node, 'damselfly_whole_file_hash_bytes_total', { how: 'landed' })
  const read = await metric(node, 'damselfly_whole_file_hash_bytes_total', { how: 'read' })
  assert.ok(landed + read >= size, `the whole file was hashed (${landed} landed, ${read} read back, of ${size})`)
  assert.ok(read <= size / 8, `hashed as landed: ${landed} bytes, read back ${read}`)
}

describe('data connection faults', () => {
  let hub: FakeHub
  const nodes: NodeProcess[] = []
  const servers: Server[] = []

  before(async () => {
    hub = await startFakeHub({
      repos: [{ id: 'acme/faults', files: [{ path: 'corrupt.bin', size: 48 * MiB + 5 }, { path: 'cut.bin', size: 48 * MiB + 17 }, { path: 'walled.bin', size: 40 * MiB + 3 }, { path: 'shared.bin', size: 64 * MiB + 7 }] }]
    })
  })
  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    for (const server of servers) server.close()
    await hub.close()
  })

  it('a peer sending corrupt blocks over it: no bad byte reaches the client, the peer is banned, the blocks come from elsewhere', async () => {
    const file = hub.file('acme/faults', 'corrupt.bin')
    const seed = await spawnNode(['--role', 'seed'])
    nodes.push(seed)
    const liar = await startPeer(seed, [], { DAMSELFLY_TEST_CORRUPT_BLOCKS: '1' })
    nodes.push(liar)
    assert.equal((await curl(hub.signedUrl('acme/faults', 'corrupt.bin'), { proxy: liar.proxyUrl })).sha256, file.sha256)
    const victim = await startPeer(seed)
    nodes.push(victim)
    await waitFor('the victim to meet the liar', async () => (await nodeStatus(victim.info.admin)).peers.includes(liar.info.peerId))
    hub.resetStats()
    const result = await curl(hub.signedUrl('acme/faults', 'corrupt.bin'), { proxy: victim.proxyUrl })
    assert.equal(result.error, undefined)
    assert.equal(result.sha256, file.sha256)
    const status = await nodeStatus(victim.info.admin)
    assert.ok(status.bannedPeers.includes(liar.info.peerId), 'the liar must be banned')
    assert.ok(!status.bannedPeers.includes(seed.info.peerId))
    assert.equal(hub.cdn.bytesServed, 0, 'the honest seed supplies what the liar spoiled')
    assert.ok(await metric(liar, 'damselfly_data_connection_bytes_total', { direction: 'sent' }) > 0, 'the liar served over its data connection')
  })

  it('a data connection cut mid-block: the download resumes and finishes byte-exact', async () => {
    const file = hub.file('acme/faults', 'cut.bin')
    // The seed's data port is on 127.0.0.2; the peer dials the address of its libp2p connection,
    // 127.0.0.1, where this proxy forwards and cuts its first connection in the middle of a block.
    const port = await freePort()
    const seed = await spawnNode(['--role', 'seed', '--data-listen', `127.0.0.2:${port}`])
    nodes.push(seed)
    assert.equal((await curl(hub.signedUrl('acme/faults', 'cut.bin'), { proxy: seed.proxyUrl })).sha256, file.sha256)
    const cutAfter = 9 * MiB + 12_345
    const proxy = await cuttingProxy(port, { host: '127.0.0.2', port }, cutAfter)
    servers.push(proxy.server)
    const peer = await startPeer(seed, ['--back-to-source', 'false'])
    nodes.push(peer)
    hub.resetStats()
    const result = await curl(hub.signedUrl('acme/faults', 'cut.bin'), { proxy: peer.proxyUrl })
    assert.equal(result.error, undefined)
    assert.equal(result.sha256, file.sha256)
    assert.equal(proxy.cuts, 1, 'the first data connection was cut')
    assert.ok(proxy.bytesBeforeCut >= cutAfter)
    assert.ok(await metric(peer, 'damselfly_data_connections_total', { outcome: 'cut' }) >= 1)
    assert.ok(proxy.connections >= 2, 'the peer opened a new data connection after the cut')
    assert.ok(await metric(peer, 'damselfly_data_connection_bytes_total', { direction: 'received' }) > cutAfter)
    assert.equal(hub.cdn.bytesServed, 0)
  })

  it('plain records when both nodes turn encryption off: byte-exact over the data connection', async () => {
    const file = hub.file('acme/faults', 'walled.bin')
    const seed = await spawnNode(['--role', 'seed', '--data-encryption', 'false'])
    nodes.push(seed)
    assert.equal((await curl(hub.signedUrl('acme/faults', 'walled.bin'), { proxy: seed.proxyUrl })).sha256, file.sha256)
    const peer = await startPeer(seed, ['--data-encryption', 'false'])
    nodes.push(peer)
    hub.resetStats()
    const buffersBefore = await blockBuffers(seed)
    const result = await curl(hub.signedUrl('acme/faults', 'walled.bin'), { proxy: peer.proxyUrl })
    assert.equal(result.sha256, file.sha256)
    assert.equal(hub.cdn.bytesServed, 0)
    // Plain records are written from the blocks' memory: each goes back once its write called back.
    const buffers = await blockBuffers(seed, buffersBefore)
    assert.ok(buffers.reused > buffers.allocated, `the seed reused its block buffers (${buffers.reused} reused, ${buffers.allocated} allocated)`)
    assert.equal(await metric(peer, 'damselfly_data_connection_bytes_total', { direction: 'received' }), file.size)
    // The read slabs went round (a slab reused while a view of it was alive would spoil a block:
    // the seed banned, the CDN asked, the bytes above wrong).
    assert.ok(await metric(peer, 'damselfly_data_connection_slabs_total', { outcome: 'reused' }) > 0, 'plain reads reuse their slabs')
    assert.deepEqual((await nodeStatus(peer.info.admin)).bannedPeers, [])
    await assertHashedAsLanded(peer, file.size)
  })

  it('plain: a seed serving one file to two peers and a local client at once reuses its block buffers, every byte exact', async () => {
    // The readers share blocks (two peers asking for the same block, a hit reading it too), and
    // plain records are written from the blocks' own memory: a buffer read into again while a
    // send or another reader still held it would spoil a block, and the seed would be banned.
    const file = hub.file('acme/faults', 'shared.bin')
    const seed = await spawnNode(['--role', 'seed', '--data-encryption', 'false'])
    nodes.push(seed)
    assert.equal((await curl(hub.signedUrl('acme/faults', 'shared.bin'), { proxy: seed.proxyUrl })).sha256, file.sha256)
    const peers = [await startPeer(seed, ['--data-encryption', 'false']), await startPeer(seed, ['--data-encryption', 'false'])]
    nodes.push(...peers)
    hub.resetStats()
    const buffersBefore = await blockBuffers(seed)
    const results = await Promise.all([...peers, seed].map(async node => await curl(hub.signedUrl('acme/faults', 'shared.bin'), { proxy: node.proxyUrl })))
    for (const result of results) {
      assert.equal(result.error, undefined)
      assert.equal(result.status, 200)
      assert.equal(result.sha256, file.sha256)
    }
    assert.equal(hub.cdn.bytesServed, 0)
    for (const peer of peers) {
      assert.deepEqual((await nodeStatus(peer.info.admin)).bannedPeers, [])
      assert.ok(await metric(peer, 'damselfly_data_connection_bytes_total', { direction: 'received' }) > 0)
    }
    assert.ok(await metric(seed, 'damselfly_data_connection_bytes_total', { direction: 'sent' }) >= file.size, 'the seed served the file over data connections')
    const buffers = await blockBuffers(seed, buffersBefore)
    assert.ok(buffers.reused > buffers.allocated, `the seed reused its block buffers (${buffers.reused} reused, ${buffers.allocated} allocated)`)
  })

  it('the data port unreachable: blocks flow over libp2p streams, byte-exact', async () => {
    const file = hub.file('acme/faults', 'walled.bin')
    // Listening on 127.0.0.2 only: the peer's dial to 127.0.0.1 is refused, as by a firewall.
    const seed = await spawnNode(['--role', 'seed', '--data-listen', '127.0.0.2:0'])
    nodes.push(seed)
    assert.equal((await curl(hub.signedUrl('acme/faults', 'walled.bin'), { proxy: seed.proxyUrl })).sha256, file.sha256)
    const peer = await startPeer(seed)
    nodes.push(peer)
    hub.resetStats()
    const result = await curl(hub.signedUrl('acme/faults', 'walled.bin'), { proxy: peer.proxyUrl })
    assert.equal(result.error, undefined)
    assert.equal(result.sha256, file.sha256)
    assert.equal(hub.cdn.bytesServed, 0)
    assert.ok(await metric(peer, 'damselfly_data_connections_total', { outcome: 'failed' }) >= 1)
    assert.equal(await metric(peer, 'damselfly_data_connection_bytes_total', { direction: 'received' }), 0)
    assert.equal(await metric(peer, 'damselfly_data_connections_total', { outcome: 'opened' }), 0)
  })
})

describe('who may open a data connection', () => {
  let seed: RunningNode
  let psk: Uint8Array
  const libp2ps: Libp2p[] = []

  before(async () => {
    const folder = await tempDir()
    const keyFile = join(folder, 'swarm.key')
    const key = generatePskKey()
    await writeFile(keyFile, key)
    psk = parsePskKey(key)
    seed = await startNode(['--role', 'seed', '--psk-file', keyFile])
  })
  after(async () => {
    await Promise.all(libp2ps.map(async node => await node.stop()))
    await seed.stop()
  })

  const bareNode = async (key?: Uint8Array): Promise<Libp2p> => {
    const node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(key === undefined ? {} : { connectionProtector: pskProtector({ psk: key }) })
    })
    libp2ps.push(node)
    return node
  }

  const askOffer = async (node: Libp2p, encrypt = true): Promise<DataOfferResponse> => {
    const signal = AbortSignal.timeout(10_000)
    const stream = await node.dialProtocol(multiaddr(seed.info.multiaddrs[0]!), protocols.data, { signal })
    const bytes = wire(stream, 4096)
    await writeFrame(bytes, { encrypt }, signal)
    const offer = await readFrame(bytes, dataOfferResponse, signal)
    await stream.close()
    return offer
  }

  const dataAddress = (): { host: string, port: number } => {
    const [host, port] = seed.info.data!.split(':')
    return { host: host!, port: Number(port) }
  }

  it('a node without the PSK cannot reach the stream that hands out tokens', async () => {
    const outsider = await bareNode()
    await assert.rejects(askOffer(outsider))
    const insider = await bareNode(psk)
    const offer = await askOffer(insider)
    assert.equal(offer.ok, true)
    // Plain only when both sides ask for it: this holder keeps encryption on.
    const plainAsked = await askOffer(insider, false)
    assert.ok(plainAsked.ok && plainAsked.encrypt)
    assert.notEqual(plainAsked.ok && plainAsked.token, offer.ok && offer.token, 'a fresh token per offer')
  })

  it('with the right token and key a connection opens; a wrong key is refused in under a second', async () => {
    const insider = await bareNode(psk)
    const { host, port } = dataAddress()
    // Right token and keys: the holder's first record verifies; a block it lacks is "missing".
    const good = await askOffer(insider)
    assert.ok(good.ok)
    const goodKeys = deriveKeys({ token: Buffer.from(good.token, 'base64'), secret: Buffer.from(good.secret, 'base64') }, seed.info.peerId, insider.peerId.toString())
    const connection = await DataConnection.open({
      host,
      port,
      token: Buffer.from(good.token, 'base64'),
      requests: { cipher: defaultCipher, key: goodKeys.request },
      responses: { cipher: defaultCipher, key: goodKeys.response },
      signal: AbortSignal.timeout(5000)
    })
    assert.equal(await connection.request({ task: 'a'.repeat(64), piece: 0, offset: 0, length: 1024 }, AbortSignal.timeout(5000)), undefined)
    connection.close()

    // The right token, a request sealed under a wrong key: closed at once, nothing served.
    const offer = await askOffer(insider)
    assert.ok(offer.ok)
    const socket = connect({ host, port })
    const started = performance.now()
    const seen = collect(socket)
    socket.write(Buffer.concat([connectionMagic, Buffer.from(offer.token, 'base64')]))
    new RecordSealer({ cipher: defaultCipher, key: randomBytes(32) }).write(socket, [encodeFrame({ task: 'a'.repeat(64), piece: 0, offset: 0, length: 1024 })])
    await seen.closed
    assert.ok(performance.now() - started < 1000, `refused after ${Math.round(performance.now() - started)} ms`)
    assert.ok(seen.bytes() <= 4 + 16, 'nothing but the holder\'s first, empty record')

    // A token used once does not open a second connection.
    const reused = await refusal(host, port, Buffer.from(offer.token, 'base64'))
    assert.ok(reused.ms < 1000)
    assert.equal(reused.bytes, 0)
  })

  it('an unknown token is refused in under a second, before any byte is sent back', async () => {
    const { host, port } = dataAddress()
    const refused = await refusal(host, port, randomBytes(16))
    assert.ok(refused.ms < 1000, `refused after ${Math.round(refused.ms)} ms`)
    assert.equal(refused.bytes, 0)
  })
})

/** Counts what a socket receives, and when it closes. */
function collect (socket: Socket): { bytes: () => number, closed: Promise<void> } {
  let bytes = 0
  socket.on('data', (chunk: Buffer) => { bytes += chunk.length })
  socket.on('error', () => {})
  return { bytes: () => bytes, closed: new Promise(resolve => socket.on('close', () => { resolve() })) }
}

/** Presents `token` and measures how long until the holder closes the connection. */
async function refusal (host: string, port: number, token: Buffer): Promise<{ ms: number, bytes: number }> {
  const socket = connect({ host, port })
  const seen = collect(socket)
  await new Promise(resolve => socket.once('connect', resolve))
  const started = performance.now()
  socket.write(Buffer.concat([connectionMagic, token]))
  await seen.closed
  return { ms: performance.now() - started, bytes: seen.bytes() }
}

/**
 * A TCP forwarder on 127.0.0.1:`port` to `target` that cuts its first connection once
 * `cutAfter` bytes went from the target to the client; later connections pass untouched.
 */
async function cuttingProxy (port: number, target: { host: string, port: number }, cutAfter: number): Promise<{ server: Server, connections: number, cuts: number, bytesBeforeCut: number }> {
  const state = { server: undefined as unknown as Server, connections: 0, cuts: 0, bytesBeforeCut: 0 }
  state.server = createServer((client) => {
    const first = state.connections === 0
    state.connections++
    const upstream = connect(target)
    let down = 0
    client.on('error', () => {})
    upstream.on('error', () => {})
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.pipe(upstream)
    upstream.on('data', (chunk: Buffer) => {
      if (first && state.cuts === 0 && down + chunk.length > cutAfter) {
        client.write(chunk.subarray(0, cutAfter - down))
        down = cutAfter
        state.cuts++
        state.bytesBeforeCut = down
        client.destroy()
        upstream.destroy()
        return
      }
      down += chunk.length
      if (!client.write(chunk)) {
        upstream.pause()
        client.once('drain', () => upstream.resume())
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    state.server.once('error', reject)
    state.server.listen(port, '127.0.0.1', resolve)
  })
  return state
}
