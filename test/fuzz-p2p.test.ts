/**
 * Property-based fuzzing of every libp2p protocol a seed speaks, from a hostile test host: our
 * meta/piece/fetch protocols get random bytes, truncated and oversized frames and schema-shaped
 * messages with wrong fields; kad-dht, identify, ping and gossipsub get raw noise; the gossip
 * topics get garbage while the node downloads. Properties: the node stays up, answers our
 * protocols with a well-formed frame or closes the stream (and answers every valid request,
 * with the right bytes), and still serves a real download to a real peer afterwards. Each
 * framed case goes to the newest protocol id or to the 1.0.0 one; on 1.0.0 the answer must
 * also pass release 0.1.0's strict schemas (test/golden/0.1.0/messages.ts).
 *
 * Fixed seed in CI; FUZZ_SEED and FUZZ_RUNS (default 800 to keep npm test short, shared out as below) for longer runs.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import type { z } from 'zod'
import { createP2PHost, type P2PHost } from '../src/p2p/host.js'
import { fetchRequest, fetchResponse, metaRequest, metaResponse, pieceRequest, pieceResponse } from '../src/p2p/messages.js'
import { protocolId, protocols, topics, type ProtocolName } from '../src/p2p/protocols.js'
import * as frozen010 from './golden/0.1.0/messages.js'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { fetchRequests, framedPayloads, gossipPayloads, metaRequests, pieceRequests, rawPayloads, type P2PFuzzContext, type StreamPayload } from './helpers/p2p-fuzz-cases.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { fuzzSettings } from './helpers/fuzz-settings.js'
import { skipUnless } from './helpers/system-tools.js'
import { pieceSizeFor } from '../src/task/piece-plan.js'

const { seed, totalRuns, runsOf } = fuzzSettings(800, 10)
const MiB = 1024 * 1024

interface StreamAnswer {
  bytes: Buffer
  /** How the stream ended on our side. */
  end: 'closed' | 'reset' | 'timeout' | 'refused'
  /** Where it ended, when it did not end well. */
  stage?: string
}

describe(`libp2p fuzzing of a seed (seed ${seed}, ${totalRuns} cases)`, { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let target: NodeProcess
  let fuzzer: P2PHost
  let targetPeer: PeerId
  let context: P2PFuzzContext
  let fileBytes: Buffer
  const nodes: NodeProcess[] = []

  before(async () => {
    hub = await startFakeHub({
      repos: [{ id: 'acme/p2p-fuzz', files: [{ path: 'held.bin', size: 6 * MiB + 777 }, { path: 'fresh.bin', size: 8 * MiB }] }]
    })
    target = await spawnNode(['--role', 'seed', '--origin-retries', '0'])
    nodes.push(target)
    const held = hub.file('acme/p2p-fuzz', 'held.bin')
    fileBytes = await readFile(held.localPath)
    const warm = await curl(hub.signedUrl('acme/p2p-fuzz', 'held.bin'), { proxy: target.proxyUrl })
    assert.equal(warm.sha256, held.sha256)
    const key = `sha256:${held.sha256}`
    const taskId = createHash('sha256').update(key).digest('hex')
    context = { taskId, key, url: hub.signedUrl('acme/p2p-fuzz', 'held.bin'), length: held.size, pieceSize: pieceSizeFor(held.size) }

    fuzzer = await createP2PHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    const connection = await fuzzer.dial(multiaddr(target.info.multiaddrs[0]!))
    targetPeer = connection.remotePeer
    await waitFor('identify to learn the seed’s protocols', async () => (await fuzzer.peerStore.get(targetPeer)).protocols.includes(protocols.fetch))
  })

  after(async () => {
    await fuzzer?.stop()
    await Promise.all(nodes.map(async node => await node.stop()))
    await hub?.close()
  })

  async function assertAlive (where: string): Promise<void> {
    assert.equal(target.child.exitCode, null, `the node exited after ${where}: ${target.stderr().slice(-3000)}`)
    const response = await fetch(`http://${target.info.admin}/healthy`, { signal: AbortSignal.timeout(30_000) }).catch(async (error: unknown) => {
      // A node on its way out still has no exit code: say what it wrote, and how it ended.
      const exit = await Promise.race([target.exited, new Promise(resolve => setTimeout(resolve, 2000, 'still running'))])
      assert.fail(`/healthy after ${where} failed (${String(error)}; exit: ${String(exit)}): ${target.stderr().slice(-3000)}`)
    })
    assert.equal(response.status, 200, `/healthy after ${where}`)
  }

  /**
   * Opens a stream, writes `bytes`, closes our side and collects what comes back. A guard
   * outside the stream makes sure that the test never waits on a stream call forever.
   */
  async function talk (protocol: string, bytes: Buffer, timeoutMs = 20_000): Promise<StreamAnswer> {
    const progress = { stage: 'dial' }
    let guardTimer: NodeJS.Timeout | undefined
    const guard = new Promise<StreamAnswer>(resolve => {
      guardTimer = setTimeout(() => { resolve({ bytes: Buffer.alloc(0), end: 'timeout', stage: `stuck in ${progress.stage}` }) }, timeoutMs + 2000)
    })
    try {
      return await Promise.race([talkOnce(protocol, bytes, timeoutMs, progress), guard])
    } finally {
      clearTimeout(guardTimer)
    }
  }

  async function talkOnce (protocol: string, bytes: Buffer, timeoutMs: number, progress: { stage: string }): Promise<StreamAnswer> {
    let stream
    try {
      stream = await fuzzer.dialProtocol(targetPeer, protocol, { signal: AbortSignal.timeout(10_000) })
    } catch {
      return { bytes: Buffer.alloc(0), end: 'refused' }
    }
    const chunks: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      stream.abort(new Error('fuzz: no end in time'))
    }, timeoutMs)
    try {
      progress.stage = 'send'
      for (let offset = 0; offset < bytes.length; offset += 256 * 1024) {
        if (!stream.send(bytes.subarray(offset, offset + 256 * 1024))) await stream.onDrain()
      }
      progress.stage = 'close'
      await stream.close()
      progress.stage = 'read'
      for await (const chunk of stream) chunks.push(Buffer.from(chunk instanceof Uint8Array ? chunk : chunk.subarray()))
      return { bytes: Buffer.concat(chunks), end: 'closed' }
    } catch {
      return { bytes: Buffer.concat(chunks), end: timedOut ? 'timeout' : 'reset', stage: progress.stage }
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * The property for our length-prefixed protocols: an answer is one well-formed frame of the
   * response schema (or nothing: the stream was reset); a valid request always gets an answer.
   */
  async function checkFramed<Req, Res> (name: ProtocolName, old: boolean, payload: StreamPayload, requestSchema: z.ZodType<Req>, responseSchema: z.ZodType<Res>, responseSchema010: z.ZodType): Promise<{ request?: Req, response?: Res, rest: Buffer }> {
    const protocol = protocolId(name, old ? '1.0.0' : '1.1.0')
    const answer = await talk(protocol, payload.bytes)
    const where = `${protocol} ← ${payload.label}`
    assert.notEqual(answer.end, 'timeout', `${where}: the stream neither answered nor ended in 20 s (${answer.stage ?? ''})`)
    assert.notEqual(answer.end, 'refused', `${where}: the node refused the protocol`)
    const valid = payload.message === undefined ? undefined : requestSchema.safeParse(payload.message)
    if (answer.bytes.length === 0) {
      assert.ok(valid?.success !== true, `${where}: a valid request got no answer (${answer.end})`)
      return { rest: answer.bytes }
    }
    assert.ok(answer.bytes.length >= 4, `${where}: a partial frame header`)
    const length = answer.bytes.readUInt32BE(0)
    assert.ok(answer.bytes.length >= 4 + length, `${where}: a truncated answer frame`)
    const json: unknown = JSON.parse(answer.bytes.subarray(4, 4 + length).toString('utf8'))
    const parsed = responseSchema.safeParse(json)
    assert.ok(parsed.success, `${where}: the answer is not a valid response: ${answer.bytes.subarray(4, 4 + Math.min(length, 300)).toString('utf8')}`)
    if (old) assert.ok(responseSchema010.safeParse(json).success, `${where}: a 0.1.0 node would refuse the answer: ${answer.bytes.subarray(4, 4 + Math.min(length, 300)).toString('utf8')}`)
    return { request: valid?.success === true ? valid.data : undefined, response: parsed.data, rest: answer.bytes.subarray(4 + length) }
  }

  it('meta: garbage gets an error frame or a closed stream; a real task gets its metadata', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), framedPayloads(metaRequests(context)), async (old, payload) => {
      const { request, response } = await checkFramed('meta', old, payload, metaRequest, metaResponse, frozen010.metaResponse)
      if (request !== undefined && response !== undefined) {
        const known = request.task === context.taskId
        assert.equal(response.ok, known, `meta for ${request.task}`)
        if (response.ok) assert.equal(response.meta.length, context.length)
      }
    }), { seed, numRuns: runsOf(0.05), endOnFailure: true, includeErrorInReport: true })
    await assertAlive('the meta cases')
  })

  it('piece: garbage gets an error frame or a closed stream; a valid block comes with exactly the right bytes', async () => {
    let served = 0
    await fc.assert(fc.asyncProperty(fc.boolean(), framedPayloads(pieceRequests(context)), async (old, payload) => {
      const { request, response, rest } = await checkFramed('piece', old, payload, pieceRequest, pieceResponse, frozen010.pieceResponse)
      if (request === undefined || response === undefined) return
      const inBounds = request.task === context.taskId && request.length <= 4 * MiB &&
        request.piece * context.pieceSize + request.offset + request.length <= Math.min(context.length, (request.piece + 1) * context.pieceSize)
      assert.equal(response.ok, inBounds, `piece ${JSON.stringify(request)}`)
      if (response.ok) {
        const start = request.piece * context.pieceSize + request.offset
        assert.equal(rest.length, request.length, 'block length')
        assert.ok(rest.equals(fileBytes.subarray(start, start + request.length)), `block bytes of ${JSON.stringify(request)}`)
        served++
      }
    }), { seed, numRuns: Math.max(200, runsOf(0.07)), endOnFailure: true, includeErrorInReport: true })
    // numRuns has a floor of 200 whatever FUZZ_RUNS says: only about one case in ten is valid.
    assert.ok(served > 10, `only ${served} valid blocks were asked for`)
    await assertAlive('the piece cases')
  })

  it('fetch: garbage gets an error frame or a closed stream', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), framedPayloads(fetchRequests(context)), async (old, payload) => {
      const { request, response } = await checkFramed('fetch', old, payload, fetchRequest, fetchResponse, frozen010.fetchResponse)
      if (request !== undefined && response !== undefined && request.task === context.taskId && request.key === context.key) {
        assert.ok(response.ok, `fetch of the held task: ${JSON.stringify(response)}`)
      }
    }), { seed, numRuns: runsOf(0.05), endOnFailure: true, includeErrorInReport: true })
    await assertAlive('the fetch cases')
  })

  it('gossip: garbage on the tasks topic and on a downloading task’s topic changes nothing', async () => {
    const fresh = hub.file('acme/p2p-fuzz', 'fresh.bin')
    const freshTask = createHash('sha256').update(`sha256:${fresh.sha256}`).digest('hex')
    const pubsub = fuzzer.services.pubsub
    pubsub.subscribe(topics.tasks)
    pubsub.subscribe(topics.task(freshTask))
    // Slow the origin so that the node is still downloading (and subscribed) while we publish.
    hub.setBandwidth({ total: 3 * MiB })
    try {
      const download = curl(hub.signedUrl('acme/p2p-fuzz', 'fresh.bin'), { proxy: target.proxyUrl })
      await waitFor('the node to subscribe to the task topic', () => pubsub.getSubscribers(topics.task(freshTask)).some(peer => peer.equals(targetPeer)))
      const messages = fc.sample(fc.tuple(fc.boolean(), gossipPayloads([freshTask, context.taskId])), { seed, numRuns: runsOf(0.1) })
      for (const [onTaskTopic, data] of messages) {
        await pubsub.publish(onTaskTopic ? topics.task(freshTask) : topics.tasks, data).catch(() => {})
      }
      const result = await download
      assert.equal(result.error, undefined)
      assert.equal(result.sha256, fresh.sha256, 'the download under gossip garbage is byte-exact')
    } finally {
      hub.setBandwidth({})
    }
    await assertAlive('the gossip garbage')
  })

  it('kad-dht, identify, ping and gossipsub streams survive raw noise', async () => {
    const spoken = (await fuzzer.peerStore.get(targetPeer)).protocols
    const framed = (['meta', 'piece', 'fetch'] as const).flatMap(name => [protocolId(name, '1.1.0'), protocolId(name, '1.0.0')])
    for (const id of framed) assert.ok(spoken.includes(id), `the seed serves ${id}: ${spoken.join(' ')}`)
    const others = spoken.filter(protocol => !framed.includes(protocol))
    for (const expected of [protocols.kad, '/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']) assert.ok(others.includes(expected), `the node speaks ${expected}: ${spoken.join(' ')}`)
    assert.ok(others.some(protocol => protocol.startsWith('/meshsub/')), `the node speaks gossipsub: ${spoken.join(' ')}`)
    // One protocol after another would spend most of the time waiting on streams the node
    // rightly keeps open: the protocols are fuzzed side by side, each one case at a time.
    await Promise.all(others.map(async (protocol) => {
      await fc.assert(fc.asyncProperty(rawPayloads, async (payload) => {
        // Pubsub and identify streams may stay open on the node's side: its survival is the
        // property here, checked after each protocol.
        const answer = await talk(protocol, payload.bytes, 1000)
        if (process.env.FUZZ_VERBOSE !== undefined) console.log(protocol, payload.label, answer.end, answer.stage)
      }), { seed, numRuns: runsOf(0.01), endOnFailure: true, includeErrorInReport: true })
      await assertAlive(`raw noise on ${protocol}`)
    }))
  })

  it('still serves a real download to a real peer, byte-exact and from the swarm', async () => {
    const held = hub.file('acme/p2p-fuzz', 'held.bin')
    const peer = await spawnNode(['--bootstrap', target.info.multiaddrs[0]!])
    nodes.push(peer)
    await waitFor('the peer to meet the node', async () => (await nodeStatus(peer.info.admin)).peers.includes(target.info.peerId))
    hub.resetStats()
    const result = await curl(hub.signedUrl('acme/p2p-fuzz', 'held.bin'), { proxy: peer.proxyUrl })
    assert.equal(result.error, undefined)
    assert.equal(result.sha256, held.sha256)
    const task = (await nodeStatus(peer.info.admin)).tasks.find(entry => entry.id === context.taskId)
    assert.equal(task?.bytesFromPeers, held.size, 'every byte came from the fuzzed node')
    assert.equal(hub.cdn.bytesServed, 0)
    await assertAlive('the real download')
  })
})
