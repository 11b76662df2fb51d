import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TaskProvides } from '../../src/p2p/task-provides.js'

/** Resolves once `condition` holds (each provide is a timer firing). */
async function until (condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise(resolve => setTimeout(resolve, 1))
}

describe('when a task is provided on the DHT', () => {
  it('once, a delay after its first announcement, however often it is announced meanwhile', async () => {
    const provided: string[] = []
    let clock = 0
    const provides = new TaskProvides(task => provided.push(task), { delayMs: 5, refreshMs: 1000, now: () => clock })
    provides.announced('a')
    provides.announced('a')
    assert.deepEqual(provided, [], 'not at once')
    await until(() => provided.length === 1)
    clock = 999
    provides.announced('a')
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.deepEqual(provided, ['a'], 'a completed download announces again: the record is still fresh')
    clock = 1000
    provides.announced('a')
    await until(() => provided.length === 2)
    assert.deepEqual(provided, ['a', 'a'], 'provided again once the last one is refreshMs old')
    provides.stop()
  })

  it('not when the task was withdrawn before the delay, nor after stop', async () => {
    const provided: string[] = []
    const provides = new TaskProvides(task => provided.push(task), { delayMs: 5 })
    provides.announced('gone')
    provides.withdrawn('gone')
    provides.announced('b')
    await until(() => provided.length === 1)
    provides.announced('stopped')
    provides.stop()
    provides.announced('after')
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.deepEqual(provided, ['b'])
  })

  it('again after a withdrawal: a task fetched anew is announced anew', async () => {
    const provided: string[] = []
    const provides = new TaskProvides(task => provided.push(task), { delayMs: 1, refreshMs: 60_000 })
    provides.announced('a')
    await until(() => provided.length === 1)
    provides.withdrawn('a')
    provides.announced('a')
    await until(() => provided.length === 2)
    provides.stop()
  })
})
