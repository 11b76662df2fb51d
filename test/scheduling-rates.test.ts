import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { RateEstimator, ThroughputMeter } from '../src/scheduling/rate-estimator.js'
import { requestWindow } from '../src/scheduling/request-window.js'

function clock (): { now: () => number, advance: (ms: number) => void } {
  let time = 1_000_000
  return { now: () => time, advance: (ms) => { time += ms } }
}

describe('RateEstimator', () => {
  it('is undefined until a transfer, then bytes over time', () => {
    const { now } = clock()
    const rates = new RateEstimator({ now })
    assert.equal(rates.rate('a'), undefined)
    rates.transferred('a', 4000, 2)
    assert.equal(rates.rate('a'), 2000)
  })

  it('lets an old sample fade by half-life, so a peer that slowed down is seen as slow', () => {
    const time = clock()
    const rates = new RateEstimator({ now: time.now, halfLifeMs: 1000 })
    rates.transferred('a', 10_000, 10) // 1000 B/ms
    time.advance(10_000) // ten half-lives
    rates.transferred('a', 100, 10) // 10 B/ms
    const rate = rates.rate('a')!
    assert.ok(rate < 12, `rate ${rate} should be close to the recent 10 B/ms`)
    // Without the wait, the two samples weigh the same.
    const fresh = new RateEstimator({ now: time.now, halfLifeMs: 1000 })
    fresh.transferred('a', 10_000, 10)
    fresh.transferred('a', 100, 10)
    assert.equal(fresh.rate('a'), 10_100 / 20)
  })

  it('smooths round trips and forgets a peer', () => {
    const rates = new RateEstimator({ now: clock().now })
    rates.roundTrip('a', 100)
    rates.roundTrip('a', 200)
    assert.equal(rates.rtt('a'), 125)
    rates.forget('a')
    assert.equal(rates.rtt('a'), undefined)
    assert.throws(() => { rates.transferred('a', -1, 1) }, RangeError)
  })
})

describe('ThroughputMeter', () => {
  it('reads a steady flow as its rate, early and late', () => {
    const time = clock()
    const meter = new ThroughputMeter({ now: time.now, windowMs: 1000 })
    for (let step = 0; step < 100; step++) {
      time.advance(10)
      meter.add(50) // 5 B/ms
      if (step === 9) assert.ok(Math.abs(meter.rate() - 5) < 0.3, `early ${meter.rate()}`)
    }
    assert.ok(Math.abs(meter.rate() - 5) < 0.1, `late ${meter.rate()}`)
  })

  it('falls towards zero when the flow stops', () => {
    const time = clock()
    const meter = new ThroughputMeter({ now: time.now, windowMs: 1000 })
    for (let step = 0; step < 100; step++) { time.advance(10); meter.add(50) }
    time.advance(5000)
    assert.ok(meter.rate() < 0.1, `${meter.rate()}`)
  })
})

describe('requestWindow', () => {
  const unitBytes = 1 << 20
  it('gives an unmeasured peer the initial window', () => {
    assert.equal(requestWindow({ bytesPerMs: undefined, rttMs: undefined }, { unitBytes }), 2)
    assert.equal(requestWindow({ bytesPerMs: undefined, rttMs: undefined }, { unitBytes, initial: 5 }), 5)
  })

  it('grows with rate × latency and stays within bounds', () => {
    // 10 MB/s, 50 ms: 0.5 MB in flight ≈ 0.48 units, + 1 being sent, × 1.5 headroom → 3.
    const slowLink = requestWindow({ bytesPerMs: 10_000, rttMs: 50 }, { unitBytes })
    const fastLink = requestWindow({ bytesPerMs: 100_000, rttMs: 200 }, { unitBytes })
    assert.equal(slowLink, 3)
    assert.equal(fastLink, Math.ceil((100_000 * 200 / unitBytes + 1) * 1.5))
    assert.ok(fastLink > slowLink)
    assert.equal(requestWindow({ bytesPerMs: 1e9, rttMs: 1000 }, { unitBytes, max: 16 }), 16)
    assert.equal(requestWindow({ bytesPerMs: 1, rttMs: 0 }, { unitBytes, headroom: 1 }), 1)
    assert.throws(() => requestWindow({ bytesPerMs: 1, rttMs: 1 }, { unitBytes: 0 }), RangeError)
  })
})
