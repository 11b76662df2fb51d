import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AbortedError } from '../../src/errors.js'
import { ByteGate } from '../../src/storage/byte-gate.js'

describe('ByteGate', () => {
  it('lets bytes through up to its size, then first come first served as they are released', async () => {
    const gate = new ByteGate(10)
    const signal = new AbortController().signal
    const a = await gate.take(6, signal)
    const b = await gate.take(4, signal)
    assert.equal(gate.inUse, 10)
    const order: string[] = []
    const c = gate.take(5, signal).then((release) => { order.push('c'); return release })
    const d = gate.take(1, signal).then((release) => { order.push('d'); return release })
    await Promise.resolve()
    assert.equal(gate.queued, 2, 'd fits but waits behind c')
    a()
    a()
    const releaseC = await c
    const releaseD = await d
    assert.deepEqual(order, ['c', 'd'])
    assert.equal(gate.inUse, 10)
    b()
    releaseC()
    releaseD()
    assert.equal(gate.inUse, 0)
  })

  it('gives an empty gate to a taker larger than it', async () => {
    const gate = new ByteGate(10)
    const release = await gate.take(50, new AbortController().signal)
    assert.equal(gate.inUse, 50)
    release()
    assert.equal(gate.inUse, 0)
  })

  it('drops a waiter whose signal aborts and admits the next one', async () => {
    const gate = new ByteGate(10)
    const signal = new AbortController().signal
    const first = await gate.take(8, signal)
    const controller = new AbortController()
    const aborted = gate.take(8, controller.signal)
    const next = gate.take(2, signal)
    controller.abort()
    await assert.rejects(aborted, AbortedError)
    const release = await next
    assert.equal(gate.inUse, 10)
    first()
    release()
    assert.equal(gate.inUse, 0)
  })
})
