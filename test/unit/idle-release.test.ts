import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { IdleRelease } from '../../src/storage/idle-release.js'

/** A clock and a timer queue driven by hand. */
function fakeTime (): { now: () => number, schedule: (callback: () => void, ms: number) => () => void, advance: (ms: number) => void, pending: () => number } {
  let time = 0
  let timers: Array<{ at: number, callback: () => void }> = []
  return {
    now: () => time,
    schedule: (callback, ms) => {
      const timer = { at: time + ms, callback }
      timers.push(timer)
      return () => { timers = timers.filter(other => other !== timer) }
    },
    advance: (ms) => {
      const until = time + ms
      for (;;) {
        const due = timers.filter(timer => timer.at <= until).sort((a, b) => a.at - b.at)[0]
        if (due === undefined) break
        timers = timers.filter(timer => timer !== due)
        time = due.at
        due.callback()
      }
      time = until
    },
    pending: () => timers.length
  }
}

describe('IdleRelease', () => {
  it('releases once idleMs passed since the last use, not before, and then keeps no timer', () => {
    const time = fakeTime()
    let released = 0
    const idle = new IdleRelease({ idleMs: 1_000, release: () => { released++ }, now: time.now, schedule: time.schedule })
    assert.equal(time.pending(), 0, 'nothing kept yet: no timer')
    idle.touch()
    time.advance(600)
    idle.touch()
    assert.equal(time.pending(), 1, 'one timer however many uses')
    time.advance(600)
    assert.equal(released, 0, '600 ms after the last use')
    time.advance(399)
    assert.equal(released, 0)
    time.advance(1)
    assert.equal(released, 1, '1,000 ms after the last use')
    assert.equal(time.pending(), 0)
    time.advance(10_000)
    assert.equal(released, 1, 'released once')
    idle.touch()
    time.advance(1_000)
    assert.equal(released, 2, 'kept again, released again')
  })

  it('waits while what is kept is busy', () => {
    const time = fakeTime()
    let released = 0
    let busy = true
    const idle = new IdleRelease({ idleMs: 1_000, release: () => { released++ }, busy: () => busy, now: time.now, schedule: time.schedule })
    idle.touch()
    time.advance(5_000)
    assert.equal(released, 0, 'a long hash in progress is not interrupted')
    busy = false
    time.advance(1_000)
    assert.equal(released, 1)
  })

  it('stop cancels the pending check', () => {
    const time = fakeTime()
    let released = 0
    const idle = new IdleRelease({ idleMs: 1_000, release: () => { released++ }, now: time.now, schedule: time.schedule })
    idle.touch()
    idle.stop()
    assert.equal(time.pending(), 0)
    time.advance(5_000)
    assert.equal(released, 0)
  })
})
