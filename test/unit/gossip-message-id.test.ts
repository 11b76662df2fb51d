import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fastMessageId } from '../../src/p2p/gossip-message-id.js'

const from = Uint8Array.from([0, 36, 8, 1, 18, 32, ...new Array<number>(32).fill(7)])
const seqno = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1])

describe('gossipsub fast message id', () => {
  it('names every copy of a signed message alike, whatever the data or signature bytes say', () => {
    const copy = { topic: 't', from, seqno, data: Uint8Array.from([1]), signature: Uint8Array.from([2]) }
    const forwarded = { topic: 't', from: Uint8Array.from(from), seqno: Uint8Array.from(seqno), data: Uint8Array.from([1]), signature: Uint8Array.from([2]) }
    assert.equal(fastMessageId(copy), fastMessageId(forwarded))
    // gossipsub's StrictSign message id is from + seqno: two messages with the same pair are one message to it.
    assert.equal(fastMessageId({ ...copy, data: Uint8Array.from([9]) }), fastMessageId(copy))
  })

  it('tells apart messages with another sequence number or another sender', () => {
    const base = fastMessageId({ topic: 't', from, seqno })
    assert.notEqual(fastMessageId({ topic: 't', from, seqno: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 2]) }), base)
    const otherFrom = Uint8Array.from(from)
    otherFrom[otherFrom.length - 1] = 8
    assert.notEqual(fastMessageId({ topic: 't', from: otherFrom, seqno }), base)
    // The two fields are not run together: moving a byte from one to the other changes the id.
    assert.notEqual(fastMessageId({ topic: 't', from: from.subarray(0, -1), seqno: Uint8Array.from([7, ...seqno]) }), base)
  })

  it('gives unsigned messages a key no signed message has', () => {
    assert.equal(fastMessageId({ topic: 't' }), fastMessageId({ topic: 'u', data: Uint8Array.from([1]) }))
    assert.notEqual(fastMessageId({ topic: 't', from, seqno }), fastMessageId({ topic: 't' }))
  })
})
