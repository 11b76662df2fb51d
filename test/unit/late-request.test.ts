/**
 * The endgame's lateness rule on its own (late-request.ts): each branch at its boundary, with
 * 4 MiB pieces and rates in bytes per ms.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lateness, latePolicyDefaults } from '../../src/scheduling/late-request.js'

const bytes = 4 * 2 ** 20
/** A rate that moves one piece in `ms`. */
const pieceIn = (ms: number): number => bytes / ms

describe('late request (the endgame)', () => {
  it('a measured holder is late at lateSlack × its expected time, never before minLateMs', () => {
    const view = { bytes, holderBytesPerMs: pieceIn(1_000), askerBytesPerMs: pieceIn(1_000), askerIdle: true }
    assert.equal(lateness({ ...view, ageMs: 1_999 }), undefined)
    assert.equal(lateness({ ...view, ageMs: 2_000 }), Infinity)
    const fast = { ...view, holderBytesPerMs: pieceIn(10) }
    assert.equal(lateness({ ...fast, ageMs: 499 }), undefined, '50× its time, but younger than minLateMs')
    assert.equal(lateness({ ...fast, ageMs: 500 }), Infinity)
  })

  it('an idle asker fasterBy × faster overtakes a slow holder, saving the holder\'s time left', () => {
    const view = { bytes, holderBytesPerMs: pieceIn(33_000), askerBytesPerMs: pieceIn(1_000), askerIdle: true }
    assert.equal(lateness({ ...view, ageMs: 500 }), 32_500)
    assert.equal(lateness({ ...view, ageMs: 500, askerIdle: false }), undefined, 'a busy asker would only queue it')
    // 4.5 s left against 4 × 1 s: late; 3.5 s left: not.
    assert.equal(lateness({ ...view, holderBytesPerMs: pieceIn(5_000), ageMs: 500 }), 4_500)
    assert.equal(lateness({ ...view, holderBytesPerMs: pieceIn(5_000), ageMs: 1_500 }), undefined)
    assert.equal(lateness({ ...view, askerBytesPerMs: undefined, ageMs: 500 }), undefined, 'an unmeasured asker is not known to be faster')
  })

  it('an unmeasured holder is late at unmeasuredLateMs, or at fasterBy × a measured asker\'s time', () => {
    const view = { bytes, holderBytesPerMs: undefined, askerBytesPerMs: undefined, askerIdle: true }
    assert.equal(lateness({ ...view, ageMs: latePolicyDefaults.unmeasuredLateMs - 1 }), undefined)
    assert.equal(lateness({ ...view, ageMs: latePolicyDefaults.unmeasuredLateMs }), Infinity)
    assert.equal(lateness({ ...view, askerBytesPerMs: pieceIn(1_000), ageMs: 3_999 }), undefined)
    assert.equal(lateness({ ...view, askerBytesPerMs: pieceIn(1_000), ageMs: 4_000 }), Infinity)
  })

  it('takes its policy from the caller', () => {
    const view = { bytes, holderBytesPerMs: pieceIn(1_000), askerBytesPerMs: undefined, askerIdle: true, ageMs: 1_500 }
    assert.equal(lateness(view), undefined)
    assert.equal(lateness(view, { ...latePolicyDefaults, lateSlack: 1.5 }), Infinity)
  })
})
