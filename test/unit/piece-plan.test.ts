import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PiecePlan, pieceSizeFor } from '../../src/task/piece-plan.js'
import { Bitmap } from '../../src/storage/bitmap.js'

const MiB = 1024 * 1024

describe('piece plan', () => {
  it('sizes pieces, classic (wire 1.0.0): clamp(nextPow2(length / 500), 4 MiB, 64 MiB)', () => {
    assert.equal(pieceSizeFor(0, 0, 'classic'), 4 * MiB)
    assert.equal(pieceSizeFor(64 * MiB, 0, 'classic'), 4 * MiB)
    assert.equal(pieceSizeFor(256 * MiB, 0, 'classic'), 4 * MiB)
    assert.equal(pieceSizeFor(4 * 1024 * MiB, 0, 'classic'), 16 * MiB)
    assert.equal(pieceSizeFor(10 * 1024 * MiB, 0, 'classic'), 32 * MiB)
    assert.equal(pieceSizeFor(100 * 1024 * MiB, 0, 'classic'), 64 * MiB)
    assert.equal(pieceSizeFor(100 * 1024 * MiB, 1 * MiB, 'classic'), 1 * MiB)
  })

  it('sizes pieces, pipelined (the default): at least 64 pieces under 256 MiB, down to 1 MiB; classic above', () => {
    assert.equal(pieceSizeFor(0), 1 * MiB)
    assert.equal(pieceSizeFor(48 * MiB + 777), 1 * MiB)
    assert.equal(pieceSizeFor(64 * MiB), 1 * MiB)
    assert.equal(pieceSizeFor(64 * MiB + 1), 2 * MiB)
    assert.equal(pieceSizeFor(128 * MiB), 2 * MiB)
    assert.equal(pieceSizeFor(256 * MiB), 4 * MiB)
    assert.equal(pieceSizeFor(1024 * MiB), 4 * MiB)
    assert.equal(pieceSizeFor(10 * 1024 * MiB), 32 * MiB)
    assert.equal(pieceSizeFor(100 * 1024 * MiB), 64 * MiB)
    assert.equal(pieceSizeFor(100 * 1024 * MiB, 2 * MiB), 2 * MiB)
  })

  it('splits a length into pieces with a short last one', () => {
    const plan = new PiecePlan(10 * MiB + 5, 4 * MiB)
    assert.equal(plan.pieceCount, 3)
    assert.equal(plan.size(2), 2 * MiB + 5)
    assert.equal(plan.indexOf(8 * MiB), 2)
    assert.equal(new PiecePlan(0, 4 * MiB).pieceCount, 1)
  })
})

describe('bitmap', () => {
  it('round-trips through base64 and counts what it holds', () => {
    const bitmap = new Bitmap(13)
    for (const index of [0, 7, 8, 12]) bitmap.set(index)
    const copy = Bitmap.fromBase64(13, bitmap.toBase64())
    assert.equal(copy.count, 4)
    assert.deepEqual(copy.missing().length, 9)
    assert.ok(copy.has(12) && !copy.has(11))
    assert.throws(() => { bitmap.set(13) }, RangeError)
    for (let index = 0; index < 13; index++) bitmap.set(index)
    assert.ok(bitmap.complete)
  })

  it('ignores bits past its size from a damaged source', () => {
    const bitmap = new Bitmap(3, Uint8Array.from([0xff]))
    assert.equal(bitmap.count, 3)
  })
})
