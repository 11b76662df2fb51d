import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ByteTotals } from '../../src/metrics/metrics.js'
import { TaskRates } from '../../src/metrics/task-rates.js'
import { ThroughputHistory } from '../../src/metrics/throughput-history.js'

const totals = (origin: number, peer = 0): ByteTotals => ({ origin, peer, local: 0, clients: 0, upload: 0 })

describe('throughput history', () => {
  it('keeps the bytes moved per interval, oldest first, the first sample being the baseline', () => {
    const history = new ThroughputHistory({ samples: 3 })
    history.sample(totals(100), 1000)
    assert.deepEqual(history.snapshot().origin, [])
    history.sample(totals(150, 10), 2000)
    history.sample(totals(150, 30), 3000)
    const snapshot = history.snapshot()
    assert.deepEqual(snapshot.origin, [50, 0])
    assert.deepEqual(snapshot.peer, [10, 20])
    assert.equal(snapshot.end, 3000)
  })

  it('forgets the oldest intervals once full', () => {
    const history = new ThroughputHistory({ samples: 3 })
    for (let second = 0; second <= 5; second++) history.sample(totals(second * second), second * 1000)
    // Differences of 0,1,4,9,16,25: the last three are kept.
    assert.deepEqual(history.snapshot().origin, [5, 7, 9])
  })
})

describe('task rates', () => {
  it('averages bytes per second over the window and forgets tasks no longer listed', () => {
    const rates = new TaskRates({ window: 2 })
    rates.sample([{ id: 'a', bytes: 0 }], 0)
    assert.equal(rates.rateOf('a'), 0)
    rates.sample([{ id: 'a', bytes: 1000 }], 1000)
    rates.sample([{ id: 'a', bytes: 3000 }], 2000)
    rates.sample([{ id: 'a', bytes: 7000 }], 3000)
    // The window holds the last three samples: (7000 - 1000) bytes over 2 s.
    assert.equal(rates.rateOf('a'), 3000)
    rates.sample([], 4000)
    assert.equal(rates.rateOf('a'), 0)
  })
})
