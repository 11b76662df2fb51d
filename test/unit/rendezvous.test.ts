import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { electSeeds, rendezvousWeight, seedsToElect, shareOf } from '../../src/scheduling/rendezvous.js'

const seeds = ['seed-a', 'seed-b', 'seed-c', 'seed-d', 'seed-e']
const keys = Array.from({ length: 10_000 }, (_, n) => `sha256:${createHash('sha256').update(String(n)).digest('hex')}`)

describe('seed election by rendezvous hashing', () => {
  it('weighs a seed by sha256(taskKey + peerId)', () => {
    assert.equal(rendezvousWeight('task', 'peer'), createHash('sha256').update('taskpeer').digest('hex'))
  })

  it('gives every node the same answer, whatever order it lists the seeds in', () => {
    for (const key of keys.slice(0, 200)) {
      const elected = electSeeds(key, seeds, 2)
      assert.equal(elected.length, 2)
      assert.deepEqual(electSeeds(key, [...seeds].reverse(), 2), elected)
      assert.deepEqual(electSeeds(key, [...seeds, ...seeds], 2), elected, 'duplicates do not matter')
      assert.deepEqual(electSeeds(key, seeds, 1), elected.slice(0, 1), 'a smaller count is a prefix')
    }
    assert.deepEqual(electSeeds('k', seeds, 9).length, 5)
    assert.deepEqual(electSeeds('k', [], 2), [])
    assert.throws(() => electSeeds('k', seeds, -1), RangeError)
  })

  it('spreads tasks evenly: each of 5 seeds within ±20% of the mean over 10,000 keys', () => {
    const tally = new Map(seeds.map(seed => [seed, 0]))
    for (const key of keys) {
      const [first] = electSeeds(key, seeds, 1)
      tally.set(first!, tally.get(first!)! + 1)
    }
    const mean = keys.length / seeds.length
    console.log(`tasks won per seed over ${keys.length} keys: ${JSON.stringify(Object.fromEntries(tally))}`)
    for (const [seed, count] of tally) assert.ok(Math.abs(count - mean) <= 0.2 * mean, `${seed} won ${count} of ${keys.length}`)
  })

  it('moves only the removed seed\'s tasks when a seed leaves', () => {
    const survivors = seeds.filter(seed => seed !== 'seed-c')
    let moved = 0
    for (const key of keys) {
      const [before] = electSeeds(key, seeds, 1)
      const [after] = electSeeds(key, survivors, 1)
      if (before === 'seed-c') moved++
      else assert.equal(after, before, `task ${key} moved from ${before} to ${after}`)

      // With two elected, a task whose pair did not include the leaver keeps its pair.
      const pairBefore = electSeeds(key, seeds, 2)
      if (!pairBefore.includes('seed-c')) assert.deepEqual(electSeeds(key, survivors, 2), pairBefore)
    }
    console.log(`removing seed-c moved ${moved} of ${keys.length} tasks (all of them its own)`)
    assert.ok(moved > 0)
  })
})

describe('origin shares of the elected seeds', () => {
  it('covers every piece exactly once, in contiguous ranges as even as possible, in elected order', () => {
    for (const pieceCount of [0, 1, 2, 7, 8, 9, 100, 501]) {
      for (const count of [1, 2, 3, 5]) {
        const elected = electSeeds(`task-${pieceCount}`, seeds, count)
        const shares = elected.map(seed => shareOf(`task-${pieceCount}`, elected, seed, pieceCount))
        assert.deepEqual(shares.flat(), Array.from({ length: pieceCount }, (_, index) => index), 'in order, each piece once')
        for (const share of shares) {
          share.forEach((index, offset) => { assert.equal(index, share[0]! + offset, 'contiguous') })
          assert.ok(Math.abs(share.length - pieceCount / elected.length) < 1, 'even')
        }
      }
    }
  })

  it('agrees across nodes holding the elected seeds in another order, and gives an outsider nothing', () => {
    const elected = electSeeds('task', seeds, 3)
    for (const seed of elected) assert.deepEqual(shareOf('task', [...elected].reverse(), seed, 10), shareOf('task', elected, seed, 10))
    assert.deepEqual(shareOf('task', elected, elected[0]!, 10), [0, 1, 2, 3])
    assert.deepEqual(shareOf('task', elected, elected[2]!, 10), [7, 8, 9])
    assert.deepEqual(shareOf('task', elected, 'not-elected', 10), [])
  })
})

describe('how many seeds to elect', () => {
  it('elects min(live seeds, 2), one for small tasks, none without live seeds', () => {
    assert.equal(seedsToElect(100, 0), 0)
    assert.equal(seedsToElect(100, 1), 1)
    assert.equal(seedsToElect(100, 5), 2)
    assert.equal(seedsToElect(7, 5), 1)
    assert.equal(seedsToElect(8, 5), 2)
    assert.equal(seedsToElect(100, 5, { maxSeeds: 4 }), 4)
    assert.equal(seedsToElect(10, 5, { smallTaskPieces: 16 }), 1)
  })
})
