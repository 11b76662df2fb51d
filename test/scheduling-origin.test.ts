import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { originFallback } from '../src/scheduling/origin-fallback.js'
import { adaptiveSeedCount } from '../src/scheduling/seed-count.js'
import { seedsToElect } from '../src/scheduling/rendezvous.js'

const MiB = 1 << 20

describe('originFallback', () => {
  const base = { remainingBytes: 64 * MiB, unitBytes: MiB, sinceSwarmProgressMs: 0 }

  it('leaves a swarm that is on time alone', () => {
    assert.deepEqual(originFallback({ ...base, swarmBytesPerMs: 5000, originBytesPerMs: 5000 }), { originBytes: 0, reason: 'on-time' })
    // Slower than the origin but within the slack.
    assert.equal(originFallback({ ...base, swarmBytesPerMs: 4100, originBytesPerMs: 5000 }).originBytes, 0)
  })

  it('gives a late swarm the share that makes both finish together', () => {
    const decision = originFallback({ ...base, swarmBytesPerMs: 1000, originBytesPerMs: 3000 })
    assert.equal(decision.reason, 'late')
    assert.equal(decision.originBytes, Math.ceil(64 * MiB * 3 / 4))
  })

  it('waits for a silent swarm as long as one unit from the origin would take, within bounds', () => {
    // One MiB at 100 B/ms is 10.5 s: wait that long, not a fixed 10 s.
    const slowOrigin = { ...base, swarmBytesPerMs: 0, originBytesPerMs: 100 }
    assert.equal(originFallback({ ...slowOrigin, sinceSwarmProgressMs: 10_000 }).reason, 'waiting')
    assert.deepEqual(originFallback({ ...slowOrigin, sinceSwarmProgressMs: 10_500 }), { originBytes: 64 * MiB, reason: 'stalled' })
    // A fast origin: the least wait applies.
    const fastOrigin = { ...base, swarmBytesPerMs: 0, originBytesPerMs: 1e6 }
    assert.equal(originFallback({ ...fastOrigin, sinceSwarmProgressMs: 999 }).reason, 'waiting')
    assert.equal(originFallback({ ...fastOrigin, sinceSwarmProgressMs: 1000 }).reason, 'stalled')
    assert.equal(originFallback({ ...base, swarmBytesPerMs: 0, originBytesPerMs: 1e-6, sinceSwarmProgressMs: 60_000 }).reason, 'stalled')
  })

  it('never uses an origin that may not be used, nor for a finished task', () => {
    assert.equal(originFallback({ ...base, swarmBytesPerMs: 0, originBytesPerMs: 0, sinceSwarmProgressMs: 1e9 }).reason, 'no-origin')
    assert.equal(originFallback({ ...base, remainingBytes: 0, swarmBytesPerMs: 0, originBytesPerMs: 1 }).reason, 'done')
  })
})

describe('adaptiveSeedCount', () => {
  const input = { pieceCount: 64, liveSeeds: 10, connectionsPerSeed: 4, seedDownBytesPerMs: 20_000, targetBytesPerMs: 20_000 }

  it('answers as seedsToElect before the origin rate is known', () => {
    assert.equal(adaptiveSeedCount({ ...input, originPerConnectionBytesPerMs: undefined }), seedsToElect(64, 10))
  })

  it('elects more seeds when each origin connection is slower', () => {
    // 4 connections × 5 MB/s = the 20 MB/s target: one seed. At 1 MB/s each: five seeds.
    assert.equal(adaptiveSeedCount({ ...input, originPerConnectionBytesPerMs: 5000 }), 1)
    assert.equal(adaptiveSeedCount({ ...input, originPerConnectionBytesPerMs: 1000 }), 5)
    assert.equal(adaptiveSeedCount({ ...input, originPerConnectionBytesPerMs: 100 }), 10, 'capped by live seeds')
  })

  it('counts a seed no faster than its own download link, and respects the caps', () => {
    assert.equal(adaptiveSeedCount({ ...input, originPerConnectionBytesPerMs: 1e6, seedDownBytesPerMs: 5000 }), 4)
    assert.equal(adaptiveSeedCount({ ...input, originPerConnectionBytesPerMs: 1e6, seedUpBytesPerMs: 10_000 }), 2, 'nor faster than it uploads')
    assert.equal(adaptiveSeedCount({ ...input, originPerConnectionBytesPerMs: 100, maxSeeds: 3 }), 3)
    assert.equal(adaptiveSeedCount({ ...input, pieceCount: 4, originPerConnectionBytesPerMs: 100 }), 1)
    assert.equal(adaptiveSeedCount({ ...input, liveSeeds: 0, originPerConnectionBytesPerMs: 100 }), 0)
  })
})
