import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { admitUpload, urgency } from '../src/scheduling/upload-admission.js'

describe('admitUpload', () => {
  it('takes requests while the backlog is under the bound, then says when to retry', () => {
    assert.deepEqual(admitUpload(0), { admit: true })
    assert.deepEqual(admitUpload(500), { admit: true })
    assert.deepEqual(admitUpload(800), { admit: false, retryAfterMs: 300 })
    assert.deepEqual(admitUpload(800, { maxBacklogMs: 1000 }), { admit: true })
    assert.throws(() => admitUpload(1, { maxBacklogMs: -1 }), RangeError)
  })
})

describe('urgency', () => {
  it('gives a requester far from done a longer backlog, within bounds', () => {
    assert.equal(urgency(2000, 1000), 2)
    assert.equal(urgency(10_000, 1000), 3)
    assert.equal(urgency(100, 1000), 0.5)
    assert.equal(urgency(100, 0), 1)
    // A slow host is admitted where a nearly finished one is refused.
    assert.deepEqual(admitUpload(800, {}, urgency(2000, 1000)), { admit: true })
    assert.equal(admitUpload(800, {}, urgency(500, 1000)).admit, false)
  })
})
