import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { shareOf } from '../../src/scheduling/rendezvous.js'
import { ShareHandover } from '../../src/scheduling/share-handover.js'

const taskKey = 'acme/model@abc:model.bin'
const elected = ['seed-a', 'seed-b', 'seed-c']
const pieceCount = 40

/** Each node's handover for the same task, as every node of the swarm computes it. */
function handoverOf (self: string, now: () => number = () => 0): ShareHandover {
  return new ShareHandover({ taskKey, elected, self, pieceCount, stallMs: 10_000, now })
}

function owners (handover: ShareHandover): Array<string | undefined> {
  return Array.from({ length: pieceCount }, (_, index) => handover.ownerOf(index))
}

describe('handover of an orphaned share (ShareHandover)', () => {
  it('owns each piece by its elected share while every seed is alive, and takes nothing over', () => {
    const handover = handoverOf('seed-a')
    handover.observe(['seed-b', 'seed-c'])
    for (const seed of elected) {
      for (const index of shareOf(taskKey, elected, seed, pieceCount)) assert.equal(handover.ownerOf(index), seed)
    }
    assert.ok(owners(handover).every((_, index) => !handover.tookOver(index)))
  })

  it('splits a gone seed\'s share among the live elected seeds: each orphan exactly one live owner, the same on every node', () => {
    const nodes = ['seed-a', 'seed-b', 'peer-x'].map(self => handoverOf(self))
    for (const node of nodes) node.observe(elected)
    for (const node of nodes) assert.deepEqual(node.observe(['seed-a', 'seed-b', 'peer-x'].filter(peer => peer !== 'seed-c')), ['seed-c'])
    const orphans = shareOf(taskKey, elected, 'seed-c', pieceCount)
    assert.ok(orphans.length > 0)
    const [a, b, x] = nodes
    assert.deepEqual(owners(a!), owners(b!))
    assert.deepEqual(owners(a!), owners(x!))
    for (const index of orphans) {
      const owner = a!.ownerOf(index)
      assert.ok(owner === 'seed-a' || owner === 'seed-b', `piece ${index} owned by ${owner}`)
      // Exactly one node fetches it from the origin at once.
      assert.equal(nodes.filter(node => node.tookOver(index)).length, 1, `piece ${index}`)
      assert.equal(x!.tookOver(index), false)
    }
    // Both survivors take part, and their own shares stay theirs.
    assert.ok(orphans.some(index => a!.tookOver(index)) && orphans.some(index => b!.tookOver(index)))
    for (const index of shareOf(taskKey, elected, 'seed-a', pieceCount)) assert.equal(a!.ownerOf(index), 'seed-a')
  })

  it('does not call a seed gone that it never saw connected', () => {
    const handover = handoverOf('seed-a')
    assert.deepEqual(handover.observe(['seed-b']), [])
    assert.ok(shareOf(taskKey, elected, 'seed-c', pieceCount).every(index => handover.ownerOf(index) === 'seed-c'))
  })

  it('holds a fresh election among the live seeds once every elected seed is gone', () => {
    const handover = handoverOf('peer-x')
    handover.observe(elected)
    assert.equal(handover.needsElection, false)
    handover.observe([])
    assert.equal(handover.needsElection, true)
    assert.ok(owners(handover).every(owner => owner === undefined))
    // Nobody owns anything: nobody takes anything over (the stall rule alone).
    assert.ok(owners(handover).every((_, index) => !handover.tookOver(index) && handover.ownerStalled(index)))
    // A gone seed that still shows in a stale list is not elected again.
    handover.elect(['seed-a', 'peer-x', 'peer-y'])
    assert.equal(handover.needsElection, false)
    const all = owners(handover)
    assert.ok(all.every(owner => owner === 'peer-x' || owner === 'peer-y'), String(all))
    assert.ok(all.some(owner => owner === 'peer-x') && all.some(owner => owner === 'peer-y'))
    assert.ok(all.every((owner, index) => handover.tookOver(index) === (owner === 'peer-x')))
    // A freshly elected seed can go as well.
    assert.deepEqual(handover.observe(['peer-z']), ['peer-y'])
    assert.ok(owners(handover).every(owner => owner === 'peer-x'))
  })

  it('lets a non-owner fall back to the origin only when the owner is silent for stallMs, or when there is none', () => {
    let now = 0
    const handover = handoverOf('peer-x', () => now)
    handover.observe(elected)
    const piece = shareOf(taskKey, elected, 'seed-c', pieceCount)[0]!
    now = 9000
    handover.observe(['seed-a', 'seed-b'])
    const heir = handover.ownerOf(piece)!
    // The heir gets stallMs from the handover, not from the start.
    now = 18_000
    assert.equal(handover.ownerStalled(piece), false)
    // A piece the heir got from someone else says nothing about its origin fetches.
    const notItsOwn = owners(handover).findIndex(owner => owner !== heir)
    handover.progressed(heir, notItsOwn)
    now = 19_001
    assert.equal(handover.ownerStalled(piece), true)
    now = 18_000
    handover.progressed(heir, piece)
    now = 27_999
    assert.equal(handover.ownerStalled(piece), false)
    now = 28_001
    assert.equal(handover.ownerStalled(piece), true)
    // Without an owner: the stall rule alone.
    handover.observe([])
    assert.equal(handover.ownerStalled(piece), true)
  })

  it('never lets the owner itself wait on its own stall', () => {
    let now = 0
    const handover = handoverOf('seed-a', () => now)
    handover.observe(elected)
    handover.observe(['seed-b'])
    now = 60_000
    const piece = shareOf(taskKey, elected, 'seed-c', pieceCount).find(index => handover.tookOver(index))!
    assert.equal(handover.ownerStalled(piece), false)
  })

  it('counts how fast each seed announces pieces of its own share, and only those', () => {
    let now = 0
    const handover = handoverOf('peer-x', () => now)
    const [first, second, third] = shareOf(taskKey, elected, 'seed-b', pieceCount)
    const notItsOwn = shareOf(taskKey, elected, 'seed-a', pieceCount)[0]!
    handover.progressed('seed-b', notItsOwn)
    assert.equal(handover.announcedAny('seed-b'), false, 'a piece of another share says nothing of its own')
    handover.progressed('seed-b', shareOf(taskKey, elected, 'seed-b', pieceCount).at(-1)!, false)
    assert.equal(handover.announcedAny('seed-b'), false, 'a piece of its share that others held first: taken by another seed')
    now = 1000
    handover.progressed('seed-b', first!)
    now = 2000
    handover.progressed('seed-b', second!)
    now = 3000
    handover.progressed('seed-b', third!)
    assert.equal(handover.announcedAny('seed-b'), true)
    assert.equal(handover.announcedAny('seed-c'), false)
    assert.equal(handover.progressRate('seed-c'), 0)
    // Three pieces over the meter's two seconds of life: about 1.5 a second.
    const perSecond = handover.progressRate('seed-b') * 1000
    assert.ok(perSecond > 1.2 && perSecond < 1.8, `${perSecond} pieces a second`)
  })
})
