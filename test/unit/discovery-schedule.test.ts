import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DiscoverySchedule } from '../../src/scheduling/discovery-schedule.js'

describe('DiscoverySchedule', () => {
  it('backs off while rounds meet no one, up to the cap', () => {
    const schedule = new DiscoverySchedule({ firstMs: 100, maxMs: 700, soonMs: 5 })
    assert.equal(schedule.roundDone([]), 100, 'a node alone waits firstMs after its first round')
    assert.equal(schedule.roundDone([]), 200)
    assert.equal(schedule.roundDone([]), 400)
    assert.equal(schedule.roundDone([]), 700, 'capped')
    assert.equal(schedule.roundDone([]), 700)
  })

  it('comes back to firstMs when a round meets a new peer, and backs off again once settled', () => {
    const schedule = new DiscoverySchedule({ firstMs: 100, maxMs: 1_000, soonMs: 5 })
    schedule.roundDone(['a'])
    schedule.roundDone(['a'])
    assert.equal(schedule.roundDone(['a']), 400)
    assert.equal(schedule.roundDone(['a', 'b']), 100, 'b is new')
    assert.equal(schedule.roundDone(['a', 'b']), 200)
    assert.equal(schedule.roundDone(['b']), 400, 'a departure is not news')
    assert.equal(schedule.roundDone(['a', 'b']), 100, 'a peer that left and came back counts as new')
  })

  it('a newly identified peer brings a round soon, then the rounds start over from firstMs', () => {
    const schedule = new DiscoverySchedule({ firstMs: 100, maxMs: 1_000, soonMs: 5 })
    for (let round = 0; round < 5; round++) schedule.roundDone(['a'])
    assert.equal(schedule.identified('a'), undefined, 'a peer already known does not move the timer')
    assert.equal(schedule.identified('c'), 5)
    assert.equal(schedule.identified('c'), undefined, 'once')
    assert.equal(schedule.roundDone(['a', 'c']), 100, 'c was counted when identified: the next round is firstMs away')
    assert.equal(schedule.roundDone(['a', 'c']), 200)
  })

  it('is settled once a round met no one new, and not after a new peer until the next such round', () => {
    const schedule = new DiscoverySchedule({ firstMs: 100, maxMs: 1_000, soonMs: 5 })
    assert.equal(schedule.settled, false, 'no round yet')
    schedule.roundDone(['a'])
    assert.equal(schedule.settled, false, 'a was new')
    schedule.roundDone(['a'])
    assert.equal(schedule.settled, true)
    schedule.identified('b')
    assert.equal(schedule.settled, false, 'b was identified since')
    schedule.roundDone(['a', 'b'])
    assert.equal(schedule.settled, true, 'b was known by the time the round ended')
    schedule.roundDone(['a', 'b', 'c'])
    assert.equal(schedule.settled, false, 'c was met by the round')
  })
})
