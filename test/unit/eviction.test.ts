import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chooseEvictions, chooseExpired, type CacheEntry } from '../../src/storage/eviction.js'
import { CacheGc } from '../../src/storage/cache-gc.js'
import { silentLogger } from '../../src/logging/logger.js'

const entry = (id: string, bytes: number, lastAccessAt: number, inUse = false): CacheEntry => ({ id, bytes, lastAccessAt, inUse })

describe('eviction policy', () => {
  it('evicts least recently used first, only as much as needed', () => {
    const entries = [entry('new', 10, 300), entry('old', 10, 100), entry('mid', 10, 200)]
    assert.deepEqual(chooseEvictions(entries, 30, 20).map(e => e.id), ['old'])
    assert.deepEqual(chooseEvictions(entries, 30, 20, 10).map(e => e.id), ['old', 'mid'])
    assert.deepEqual(chooseEvictions(entries, 30, 30).map(e => e.id), [])
  })

  it('never evicts a task in use, even the least recently used', () => {
    const entries = [entry('old', 10, 100, true), entry('mid', 10, 200), entry('new', 10, 300)]
    assert.deepEqual(chooseEvictions(entries, 30, 10).map(e => e.id), ['mid', 'new'])
    assert.deepEqual(chooseEvictions([entry('busy', 10, 1, true)], 10, 0).map(e => e.id), [])
  })

  it('expires tasks idle for the TTL, not those in use, and none without a TTL', () => {
    const entries = [entry('idle', 1, 0), entry('busy', 1, 0, true), entry('fresh', 1, 900)]
    assert.deepEqual(chooseExpired(entries, 1000, 500).map(e => e.id), ['idle'])
    assert.deepEqual(chooseExpired(entries, 1000, 0), [])
  })
})

describe('CacheGc', () => {
  function fakeTasks (initial: CacheEntry[]): { entries: () => CacheEntry[], evict: (id: string) => void, persistAccessTimes: () => Promise<void>, evicted: string[] } {
    let live = [...initial]
    const evicted: string[] = []
    return {
      entries: () => live,
      evict: (id) => { evicted.push(id); live = live.filter(e => e.id !== id) },
      persistAccessTimes: async () => {},
      evicted
    }
  }

  it('makes room down to the low watermark, and refuses what cannot fit', () => {
    const tasks = fakeTasks([entry('a', 30, 1), entry('b', 30, 2), entry('c', 30, 3, true)])
    const gc = new CacheGc({ tasks, logger: silentLogger }, { quota: 100, highWatermark: 0.9, lowWatermark: 0.8, ttl: 0 })
    assert.equal(gc.makeRoom(101), false, 'larger than the quota')
    assert.deepEqual(tasks.evicted, [])
    // 90 + 10 fits the quota but passes the high watermark (90): down to the low one (80).
    assert.equal(gc.makeRoom(10), true)
    assert.deepEqual(tasks.evicted, ['a'])
  })

  it('evicts LRU tasks when a new one passes the high watermark', () => {
    const tasks = fakeTasks([entry('a', 30, 1), entry('b', 30, 2), entry('c', 30, 3, true)])
    const gc = new CacheGc({ tasks, logger: silentLogger }, { quota: 100, highWatermark: 0.9, lowWatermark: 0.8, ttl: 0 })
    assert.equal(gc.makeRoom(40), true)
    assert.deepEqual(tasks.evicted, ['a', 'b'])
    assert.equal(gc.makeRoom(80), false, 'c is in use: 30 + 80 cannot fit')
    assert.deepEqual(tasks.evicted, ['a', 'b'], 'nothing more was evicted for it')
  })

  it('collects expired tasks and trims to the low watermark', async () => {
    const tasks = fakeTasks([entry('stale', 10, 0), entry('a', 40, 500), entry('b', 40, 600)])
    const gc = new CacheGc({ tasks, logger: silentLogger }, { quota: 80, highWatermark: 0.9, lowWatermark: 0.5, ttl: 1000 })
    await gc.collect(1200)
    assert.deepEqual(tasks.evicted, ['stale', 'a'])
    assert.deepEqual(gc.evicted, { quota: 1, ttl: 1 })
  })
})
