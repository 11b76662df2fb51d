import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { admitUpload } from '../src/scheduling/upload-admission.js'

describe('admitUpload', () => {
  it('takes requests while the backlog is under the bound, then says when to retry', () => {
    assert.deepEqual(admitUpload(0), { admit: true })
    assert.deepEqual(admitUpload(500), { admit: true })
    assert.deepEqual(admitUpload(800), { admit: false, retryAfterMs: 300 })
    assert.deepEqual(admitUpload(800, { maxBacklogMs: 1000 }), { admit: true })
    assert.throws(() => admitUpload(1, { maxBacklogMs: -1 }), RangeError)
  })
})
