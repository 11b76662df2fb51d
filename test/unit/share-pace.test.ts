import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mayFetchShareAhead, type SharePaceInput } from '../../src/scheduling/share-pace.js'

const MiB = 1024 * 1024
/** An elected seed with others waiting, nothing ahead, its uplink at 1 MB/s (1000 bytes per ms). */
const base: SharePaceInput = { unsharedBytes: 0, originInFlightBytes: 0, pieceBytes: MiB, uplinkBytesPerMs: 1000, othersWanting: 7 }

describe('mayFetchShareAhead (an elected seed\'s share, paced to its uplink)', () => {
  it('keeps a slow uplink at its floor of two pieces ahead, held back and in flight together', () => {
    assert.equal(mayFetchShareAhead(base), true, 'nothing ahead: the first piece')
    assert.equal(mayFetchShareAhead({ ...base, originInFlightBytes: MiB }), true, 'the second piece')
    assert.equal(mayFetchShareAhead({ ...base, originInFlightBytes: 2 * MiB }), false, 'no third while two are in flight')
    assert.equal(mayFetchShareAhead({ ...base, unsharedBytes: MiB, originInFlightBytes: MiB }), false, 'one held back counts as one in flight')
  })

  it('lets a fast uplink run as far ahead as it passes on in the horizon (3 s)', () => {
    const fast = { ...base, uplinkBytesPerMs: 5000 }
    // 5 MB/s × 3 s = 15 MB: 14 pieces of 1 MiB, not 15.
    assert.equal(mayFetchShareAhead({ ...fast, unsharedBytes: 9 * MiB, originInFlightBytes: 4 * MiB }), true)
    assert.equal(mayFetchShareAhead({ ...fast, unsharedBytes: 10 * MiB, originInFlightBytes: 4 * MiB }), false)
    assert.equal(mayFetchShareAhead({ ...fast, unsharedBytes: 10 * MiB, originInFlightBytes: 4 * MiB }, { horizonMs: 6000 }), true)
  })

  it('never paces a seed that nobody waits for, or that has no uplink figure', () => {
    const crowded = { ...base, unsharedBytes: 100 * MiB, originInFlightBytes: 4 * MiB }
    assert.equal(mayFetchShareAhead({ ...crowded, othersWanting: 0 }), true)
    assert.equal(mayFetchShareAhead({ ...crowded, uplinkBytesPerMs: undefined }), true)
    assert.equal(mayFetchShareAhead(crowded), false)
  })

  it('counts the floor in pieces of the size to start', () => {
    const big = { ...base, pieceBytes: 16 * MiB }
    assert.equal(mayFetchShareAhead({ ...big, originInFlightBytes: 16 * MiB }), true)
    assert.equal(mayFetchShareAhead({ ...big, originInFlightBytes: 32 * MiB }), false)
    assert.equal(mayFetchShareAhead({ ...big, originInFlightBytes: 16 * MiB }, { minAheadPieces: 1 }), false)
  })
})
