import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pickByRate, rankByRate } from '../src/scheduling/peer-choice.js'
import { seededRandom } from '../src/scheduling/seeded-random.js'

const rates: Record<string, number | undefined> = { fast: 100, mid: 10, slow: 1, fresh: undefined }
const rateOf = (peer: string): number | undefined => rates[peer]

describe('rankByRate', () => {
  it('puts unmeasured peers first, then fastest first', () => {
    assert.deepEqual(rankByRate(['slow', 'fast', 'fresh', 'mid'], rateOf, { exploreShare: 0 }), ['fresh', 'fast', 'mid', 'slow'])
  })

  it('now and then moves a slower-half peer to the front, reproducibly with a seed', () => {
    const rank = (seed: number): string[][] => {
      const random = seededRandom(seed)
      return Array.from({ length: 200 }, () => rankByRate(['fast', 'mid', 'slow'], rateOf, { random, exploreShare: 0.2 }))
    }
    const runs = rank(7)
    assert.deepEqual(runs, rank(7))
    const optimistic = runs.filter(order => order[0] !== 'fast')
    // About 20 % of 200; only the slower half (here 'slow') is ever promoted.
    assert.ok(optimistic.length > 20 && optimistic.length < 60, `${optimistic.length}`)
    assert.ok(optimistic.every(order => order[0] === 'slow'))
  })
})

describe('pickByRate', () => {
  it('spreads picks in proportion to rate', () => {
    const random = seededRandom(1)
    const counts: Record<string, number> = { fast: 0, mid: 0, slow: 0 }
    for (let draw = 0; draw < 11_100; draw++) counts[pickByRate(['fast', 'mid', 'slow'], rateOf, random)!]!++
    assert.ok(Math.abs(counts.fast! - 10_000) < 300, JSON.stringify(counts))
    assert.ok(Math.abs(counts.mid! - 1000) < 150, JSON.stringify(counts))
    assert.ok(counts.slow! > 50 && counts.slow! < 200, JSON.stringify(counts))
  })

  it('weighs an unmeasured peer as the mean, and handles no candidates', () => {
    const random = seededRandom(2)
    let fresh = 0
    for (let draw = 0; draw < 2000; draw++) if (pickByRate(['fast', 'fresh'], rateOf, random) === 'fresh') fresh++
    assert.ok(fresh > 850 && fresh < 1150, `${fresh}`)
    assert.equal(pickByRate([], rateOf, random), undefined)
  })
})
