import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PeerBackoff } from '../../src/scheduling/peer-backoff.js'

describe('PeerBackoff', () => {
  it('pauses a failing peer for a time that doubles up to the cap, and lifts it on success', () => {
    let now = 1_000
    const backoff = new PeerBackoff({ now: () => now, firstMs: 100, maxMs: 350 })
    assert.ok(backoff.ready('p'))
    backoff.failed('p')
    assert.ok(!backoff.ready('p'))
    assert.equal(backoff.remainingMs('p'), 100)
    now += 100
    assert.ok(backoff.ready('p'))
    backoff.failed('p')
    assert.equal(backoff.remainingMs('p'), 200)
    backoff.failed('p')
    assert.equal(backoff.remainingMs('p'), 350, 'capped')
    assert.ok(backoff.ready('q'), 'other peers are not paused')
    backoff.succeeded('p')
    assert.ok(backoff.ready('p'))
    backoff.failed('p')
    assert.equal(backoff.remainingMs('p'), 100, 'a success starts the doubling over')
  })
})
