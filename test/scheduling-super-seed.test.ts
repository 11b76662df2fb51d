import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SuperSeeder } from '../src/scheduling/super-seed.js'
import { seededRandom } from '../src/scheduling/seeded-random.js'

function seeder (pieceCount: number, perPeer: number, seed = 1): SuperSeeder {
  const superSeeder = new SuperSeeder({ pieceCount, perPeer, random: seededRandom(seed) })
  for (let index = 0; index < pieceCount; index++) superSeeder.held(index)
  return superSeeder
}

describe('SuperSeeder', () => {
  it('hands distinct pieces to different peers until every piece is out once', () => {
    const superSeeder = seeder(8, 1)
    const shown = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map(peer => {
      const [piece] = superSeeder.revealTo(peer)
      superSeeder.given(peer, piece!)
      return piece
    })
    assert.equal(new Set(shown).size, 8, `${shown.join(',')}`)
    assert.ok(superSeeder.spread)
  })

  it('reveals no more to a peer until what it got was seen elsewhere', () => {
    const superSeeder = seeder(8, 1)
    const [first] = superSeeder.revealTo('a')
    superSeeder.given('a', first!)
    assert.deepEqual(superSeeder.revealTo('a'), [], 'a has not passed its piece on')
    superSeeder.seen('b', first!)
    const [second] = superSeeder.revealTo('a')
    assert.notEqual(second, undefined)
    assert.notEqual(second, first)
  })

  it('prefers the piece with fewest known copies and forgets a departed peer', () => {
    const superSeeder = seeder(3, 1)
    superSeeder.seen('x', 0)
    superSeeder.seen('y', 0)
    superSeeder.seen('x', 1)
    assert.deepEqual(superSeeder.revealTo('a'), [2])
    superSeeder.peerGone('x')
    assert.equal(superSeeder.copiesOf(0), 1)
    assert.equal(superSeeder.copiesOf(1), 0)
    assert.throws(() => { superSeeder.given('a', 3) }, RangeError)
  })

  it('breaks ties reproducibly with a seeded random', () => {
    const order = (seed: number): number[] => {
      const superSeeder = seeder(16, 4, seed)
      return superSeeder.revealTo('a')
    }
    assert.deepEqual(order(5), order(5))
    assert.equal(new Set(order(5)).size, 4)
  })
})
