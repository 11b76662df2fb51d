import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { silentLogger } from '../../src/logging/logger.js'
import { shareOf } from '../../src/scheduling/rendezvous.js'
import { SourcePlanner } from '../../src/task/source-planner.js'
import type { TaskRequest } from '../../src/task/task-registry.js'
import { contentOf, fakeOrigin, fakeSwarm, holderMeta, keyOf, type FakeSwarmInit } from '../helpers/task-fakes.js'

const KiB = 1024
const pieceSize = 64 * KiB
const content = contentOf(10 * pieceSize)
const request: TaskRequest = { key: keyOf(content), source: { url: 'http://origin.invalid/f', headers: { authorization: 'Bearer secret' } } }
const signal = AbortSignal.timeout(10_000)

function planner (swarm: FakeSwarmInit, mustRefetch = false): { planner: SourcePlanner, origin: ReturnType<typeof fakeOrigin>, swarm: ReturnType<typeof fakeSwarm> } {
  const origin = fakeOrigin(content)
  const fake = fakeSwarm(swarm)
  return { planner: new SourcePlanner({ origin, swarm: fake, logger: silentLogger, mustRefetch: () => mustRefetch }), origin, swarm: fake }
}

/** Where a new download's bytes come from (source-planner.ts), decided against fakes. */
describe('planning a cold task', () => {
  it('a seed elected for it fetches its own share from the origin', async () => {
    const { planner: subject, origin, swarm } = planner({ peerId: 'seed-self', seed: true })
    const { plan, shape } = await subject.plan(request, signal)
    assert.equal(origin.probes, 1)
    assert.equal(shape.length, content.length)
    assert.deepEqual(swarm.asked, [])
    // The only live seed: its share is every piece.
    const share = plan.origin(10)
    assert.ok(share instanceof Set)
    assert.deepEqual([...share].sort((a, b) => a - b), shareOf(request.key.key, ['seed-self'], 'seed-self', 10))
    assert.equal(share.size, 10)
    assert.deepEqual(plan.partners, [])
    // Whom a gone seed's share would go to (share-handover.ts).
    assert.deepEqual(plan.elected, ['seed-self'])
  })

  it('elected seeds that all speak wire 1.1.0 cut the task in pipelined pieces; one of wire 1.0.0 makes it classic for all', async () => {
    const modern = await planner({ peerId: 'seed-self', seed: true, seeds: ['seed-new'] }).planner.plan(request, signal)
    assert.deepEqual([...modern.plan.elected!].sort(), ['seed-new', 'seed-self'])
    assert.equal(modern.plan.pieceRule, 'pipelined')
    // A 0.1.0 seed cuts it classic, whatever we do: so must we, or the two halves would not fit.
    const mixed = await planner({ peerId: 'seed-self', seed: true, seeds: ['seed-old'], wire10Only: ['seed-old'] }).planner.plan(request, signal)
    assert.deepEqual([...mixed.plan.elected!].sort(), ['seed-old', 'seed-self'])
    assert.equal(mixed.plan.pieceRule, 'classic')
    // The same when the seed is asked to fetch by a peer that names the elected seeds.
    const asked = await planner({ peerId: 'seed-self', seed: true }).planner.plan({ ...request, elected: ['seed-self', 'seed-old'] }, signal)
    assert.equal(asked.plan.pieceRule, 'pipelined', 'no peer is known to speak only 1.0.0 here')
    const askedMixed = await planner({ peerId: 'seed-self', seed: true, wire10Only: ['seed-old'] }).planner.plan({ ...request, elected: ['seed-self', 'seed-old'] }, signal)
    assert.equal(askedMixed.plan.pieceRule, 'classic')
    // A node that speaks only 1.0.0 itself (the mixed swarm's stand-in) cuts classic even alone.
    const alone = await planner({ peerId: 'self-old', wire10Only: ['self-old'] }).planner.plan(request, signal)
    assert.equal(alone.plan.pieceRule, 'classic')
    assert.equal((await planner({ peerId: 'self-new' }).planner.plan(request, signal)).plan.pieceRule, 'pipelined')
  })

  it('a peer asks the elected seed and takes nothing from the origin', async () => {
    const seedMeta = holderMeta(content, pieceSize, [])
    const { planner: subject, origin, swarm } = planner({
      peerId: 'peer-self',
      seeds: ['seed-a'],
      fetchFromSeed: async (_seed, fetch) => {
        // Tokens go to the origin, never to peers.
        assert.equal(fetch.headers.authorization, undefined)
        return { ok: true, meta: seedMeta }
      }
    })
    const { plan, shape } = await subject.plan(request, signal)
    assert.equal(origin.probes, 0)
    assert.deepEqual(swarm.asked, ['seed-a'])
    assert.equal(plan.origin(10), 'none')
    assert.deepEqual(plan.holders.map(holder => holder.peer), ['seed-a'])
    assert.equal(shape.length, content.length)
    // It waits for the seeds' shares, and knows whom a gone seed's share goes to.
    assert.deepEqual(plan.elected, ['seed-a'])
  })

  it('a peer whose seed cannot fetch goes to the origin for every piece', async () => {
    const { planner: subject, origin, swarm } = planner({ peerId: 'peer-self', seeds: ['seed-a'] })
    const { plan } = await subject.plan(request, signal)
    assert.deepEqual(swarm.asked, ['seed-a'])
    assert.equal(origin.probes, 1)
    assert.equal(plan.origin(10), 'all')
    // Nothing to hand over: the origin is all its own.
    assert.equal(plan.elected, undefined)
  })
})

describe('planning a task a peer holds', () => {
  it('takes it from the holder, with no origin traffic at all', async () => {
    const { planner: subject, origin, swarm } = planner({ peerId: 'peer-self', seed: true, holders: [{ peer: 'holder', meta: holderMeta(content, pieceSize), content }] })
    const { plan, shape } = await subject.plan(request, signal)
    assert.equal(origin.probes, 0)
    assert.deepEqual(swarm.asked, [])
    assert.equal(plan.origin(10), 'none')
    assert.equal(shape.pieceSize, pieceSize)
  })

  it('but not when its last copy failed its sha256 check: then the origin supplies every piece', async () => {
    const { planner: subject, origin } = planner({ peerId: 'peer-self', holders: [{ peer: 'holder', meta: holderMeta(content, pieceSize), content }] }, true)
    const { plan } = await subject.plan(request, signal)
    assert.equal(origin.probes, 1)
    assert.equal(plan.origin(10), 'all')
    assert.deepEqual(plan.holders, [])
  })
})
