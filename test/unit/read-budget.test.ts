import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ReadBudget } from '../../src/proxy/read-budget.js'

const KiB = 1024
const MiB = 1024 * KiB

describe('read budget: read buffer sizes shared by the responses in flight', () => {
  it('gives a lone response the largest buffer', () => {
    const budget = new ReadBudget()
    assert.equal(budget.take().bytes, MiB)
  })

  it('shrinks the buffers as responses crowd in, to the budget, never below the floor', () => {
    const budget = new ReadBudget({ totalBytes: 32 * MiB, minBytes: 64 * KiB, maxBytes: MiB })
    const shares = Array.from({ length: 200 }, () => budget.take())
    assert.equal(shares[31]!.bytes, MiB)
    assert.equal(shares[32]!.bytes, 512 * KiB)
    assert.equal(shares[199]!.bytes, 128 * KiB)
    // Each share fits the budget split among the responses in flight when it was taken.
    shares.forEach((share, index) => { assert.ok(share.bytes * (index + 1) <= 32 * MiB || share.bytes === MiB) })
    const crowd = new ReadBudget({ totalBytes: 32 * MiB, minBytes: 64 * KiB })
    const many = Array.from({ length: 2000 }, () => crowd.take())
    assert.equal(many[1999]!.bytes, 64 * KiB)
  })

  it('gives the room back when responses end, once each', () => {
    const budget = new ReadBudget({ totalBytes: 4 * MiB })
    const first = budget.take()
    const others = Array.from({ length: 15 }, () => budget.take())
    assert.equal(budget.holders, 16)
    assert.equal(budget.take().bytes, 128 * KiB)
    for (const share of others) {
      share.release()
      share.release()
    }
    first.release()
    assert.equal(budget.holders, 1)
    assert.equal(budget.take().bytes, MiB)
  })
})
