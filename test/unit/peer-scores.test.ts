import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PeerScores } from '../../src/scheduling/peer-scores.js'

const minute = 60_000

function clock (): { now: () => number, advance: (ms: number) => void } {
  let time = 1_000_000
  return { now: () => time, advance: ms => { time += ms } }
}

describe('peer scores', () => {
  it('ranks by measured throughput, untested peers first, banned peers left out', () => {
    const { now } = clock()
    const scores = new PeerScores({ now })
    scores.completed('slow', 1_000_000, 1_000) // 1,000 B/ms
    scores.completed('fast', 1_000_000, 100) // 10,000 B/ms
    scores.completed('bad', 1_000_000, 10)
    scores.failed('bad', 'corrupt')
    assert.deepEqual(scores.rank(['slow', 'bad', 'fast', 'new']), ['new', 'fast', 'slow'])
    assert.equal(scores.score('fast'), 10_000)
    assert.equal(scores.score('new'), undefined)
  })

  it('smooths throughput so one sample moves the estimate only partly', () => {
    const scores = new PeerScores({ now: clock().now, smoothing: 0.5 })
    scores.completed('a', 1_000, 1)
    scores.completed('a', 3_000, 1)
    assert.equal(scores.snapshot()[0]!.bytesPerMs, 2_000)
    scores.completed('a', 10, 0) // a sub-millisecond transfer counts as 1 ms, not infinity
    assert.equal(scores.snapshot()[0]!.bytesPerMs, 1_005)
    // The endgame reads the same estimate per peer; undefined before a piece arrived.
    assert.equal(scores.bytesPerMs('a'), 1_005)
    scores.failed('b', 'timeout')
    assert.equal(scores.bytesPerMs('b'), undefined)
    assert.equal(scores.bytesPerMs('never'), undefined)
  })

  it('lowers the score of a peer that fails, refusals less than errors', () => {
    const scores = new PeerScores({ now: clock().now })
    for (const peerId of ['steady', 'erratic', 'refuser']) scores.completed(peerId, 5_000, 1)
    scores.failed('erratic', 'error')
    scores.failed('refuser', 'refused')
    assert.deepEqual(scores.rank(['erratic', 'refuser', 'steady']), ['steady', 'refuser', 'erratic'])
    assert.ok(scores.score('erratic')! < 5_000)
    // Good pieces win the reliability back.
    for (let n = 0; n < 30; n++) scores.completed('erratic', 5_000, 1)
    assert.ok(scores.score('erratic')! > 4_990)
  })

  it('scores down, without banning, a peer whose pieces made up a file that failed its sha256', () => {
    const scores = new PeerScores({ now: clock().now })
    for (const peerId of ['relay', 'other']) scores.completed(peerId, 5_000, 1)
    scores.failed('relay', 'bad-file')
    assert.equal(scores.isBanned('relay'), false)
    assert.deepEqual(scores.rank(['relay', 'other']), ['other', 'relay'])
    assert.equal(scores.snapshot().find(row => row.peerId === 'relay')?.failures['bad-file'], 1)
  })

  it('bans for a corrupt piece for 10 minutes, doubling for repeat offenders, capped', () => {
    const { now, advance } = clock()
    const scores = new PeerScores({ now, maxBanMs: 30 * minute })
    scores.failed('a', 'corrupt')
    assert.ok(scores.isBanned('a'))
    assert.equal(scores.score('a'), 0)
    advance(10 * minute - 1)
    assert.ok(scores.isBanned('a'))
    advance(1)
    assert.ok(!scores.isBanned('a'))

    scores.failed('a', 'corrupt')
    advance(20 * minute - 1)
    assert.ok(scores.isBanned('a'), 'the second offence bans for 20 minutes')
    advance(1)
    assert.ok(!scores.isBanned('a'))

    scores.failed('a', 'corrupt')
    advance(30 * minute)
    assert.ok(!scores.isBanned('a'), 'the third offence (40 minutes) is capped at maxBanMs')
    assert.equal(scores.snapshot()[0]!.offences, 3)
  })

  it('bans briefly after three timeouts in a row, not when a success comes between', () => {
    const { now, advance } = clock()
    const scores = new PeerScores({ now })
    scores.failed('flaky', 'timeout')
    scores.failed('flaky', 'timeout')
    scores.completed('flaky', 1_000, 10)
    scores.failed('flaky', 'timeout')
    assert.ok(!scores.isBanned('flaky'))

    scores.failed('stuck', 'timeout')
    scores.failed('stuck', 'timeout')
    assert.ok(!scores.isBanned('stuck'))
    scores.failed('stuck', 'timeout')
    assert.ok(scores.isBanned('stuck'))
    advance(30_000)
    assert.ok(!scores.isBanned('stuck'))
    scores.failed('stuck', 'timeout')
    assert.ok(!scores.isBanned('stuck'), 'the streak starts over after a ban')
  })

  it('does not forget a ban when the peer reconnects, and does not shorten one', () => {
    const { now, advance } = clock()
    const scores = new PeerScores({ now })
    scores.failed('a', 'corrupt')
    advance(minute)
    for (let n = 0; n < 3; n++) scores.failed('a', 'timeout')
    advance(minute)
    assert.ok(scores.isBanned('a'), 'a 30 s timeout ban does not cut a 10 min corrupt ban short')
  })

  it('shows every peer in a snapshot, best first and banned last', () => {
    const { now } = clock()
    const scores = new PeerScores({ now })
    scores.completed('b', 2_000, 1)
    scores.completed('a', 4_000, 1)
    scores.failed('c', 'corrupt')
    const snapshot = scores.snapshot()
    assert.deepEqual(snapshot.map(row => row.peerId), ['a', 'b', 'c'])
    assert.deepEqual(snapshot[2], {
      peerId: 'c',
      score: 0,
      bytesPerMs: undefined,
      reliability: 0.7,
      completed: 0,
      failures: { timeout: 0, corrupt: 1, refused: 0, error: 0, 'bad-file': 0 },
      offences: 1,
      bannedUntil: now() + 10 * minute
    })
    assert.equal(snapshot[0]!.bannedUntil, undefined)
  })

  it('rejects nonsense measurements and settings', () => {
    const scores = new PeerScores()
    assert.throws(() => { scores.completed('a', -1, 5) }, RangeError)
    assert.throws(() => { scores.completed('a', 5, Number.NaN) }, RangeError)
    assert.throws(() => new PeerScores({ smoothing: 0 }), RangeError)
  })
})
