import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { HolderRefresh } from '../../src/scheduling/holder-refresh.js'

describe('when a download re-reads its holders (HolderRefresh)', () => {
  it('reads a holder at once, then only after it went quiet, and never twice in one quiet spell', () => {
    let now = 0
    const refresh = new HolderRefresh({ now: () => now, quietMs: 5000 })
    // Never heard from: due now, once.
    assert.deepEqual(refresh.due(['a', 'b']), ['a', 'b'])
    assert.deepEqual(refresh.due(['a', 'b']), [])
    now = 3000
    refresh.heard('a')
    now = 5000
    // b was read at 0 and has been quiet since; a spoke at 3000.
    assert.deepEqual(refresh.due(['a', 'b']), ['b'])
    now = 8000
    assert.deepEqual(refresh.due(['a', 'b']), ['a'])
    refresh.forget('b')
    assert.deepEqual(refresh.due(['a', 'b']), ['b'])
  })

  it('searches after firstSearchMs, backs off while searches find no one new, and starts over when one does', () => {
    let now = 0
    const refresh = new HolderRefresh({ now: () => now, firstSearchMs: 10_000, maxSearchMs: 40_000 })
    const searchTimes: number[] = []
    const found = [false, false, true, false, false, false, false]
    for (; now <= 200_000 && found.length > 0; now += 1000) {
      if (!refresh.searchDue()) continue
      searchTimes.push(now)
      refresh.searched(found.shift()!)
    }
    // 10 s, +20 (nothing), +40 (nothing, capped next), +10 after a find, then 20, 40, 40.
    assert.deepEqual(searchTimes, [10_000, 30_000, 70_000, 80_000, 100_000, 140_000, 180_000])
  })
})
