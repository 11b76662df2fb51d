import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { InvalidRangeError, RangeNotSatisfiableError } from '../../src/errors.js'
import { parseRangeHeader, resolveRange } from '../../src/proxy/range.js'

describe('Range headers', () => {
  it('parses the single-range forms', () => {
    assert.equal(parseRangeHeader(undefined), undefined)
    assert.deepEqual(parseRangeHeader('bytes=0-99'), { kind: 'from', start: 0, end: 99 })
    assert.deepEqual(parseRangeHeader('bytes=100-'), { kind: 'from', start: 100 })
    assert.deepEqual(parseRangeHeader('bytes=-500'), { kind: 'suffix', length: 500 })
    assert.deepEqual(parseRangeHeader(' BYTES = 5 - 6 '), { kind: 'from', start: 5, end: 6 })
  })

  it('serves several ranges whole, as RFC 9110 allows', () => {
    assert.equal(parseRangeHeader('bytes=0-1,5-6'), undefined)
  })

  it('rejects malformed ranges', () => {
    for (const header of ['bytes=', 'bytes=a-b', 'bytes=9-3', 'items=0-1', 'bytes=-', 'bytes=0-1,x', 'bytes=99999999999999999999-']) {
      assert.throws(() => parseRangeHeader(header), InvalidRangeError, header)
    }
  })

  it('resolves against the length and refuses what lies outside', () => {
    assert.deepEqual(resolveRange({ kind: 'from', start: 0, end: 99 }, 50), { start: 0, end: 49 })
    assert.deepEqual(resolveRange({ kind: 'suffix', length: 500 }, 100), { start: 0, end: 99 })
    assert.deepEqual(resolveRange({ kind: 'from', start: 10 }, 100), { start: 10, end: 99 })
    assert.throws(() => resolveRange({ kind: 'from', start: 100 }, 100), RangeNotSatisfiableError)
    assert.throws(() => resolveRange({ kind: 'suffix', length: 0 }, 100), RangeNotSatisfiableError)
    assert.throws(() => resolveRange({ kind: 'suffix', length: 5 }, 0), RangeNotSatisfiableError)
  })
})
