import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { OriginFallbackDriver, type OriginFallbackDriverInit } from '../../src/task/origin-fallback-driver.js'

const MiB = 1024 * 1024
const piece = 4 * MiB

/** A driver under a clock the test moves, for 8 nodes wanting the task, 4 origin requests each. */
function driver (init: Partial<OriginFallbackDriverInit> = {}): { driver: OriginFallbackDriver, clock: { now: number } } {
  const clock = { now: 0 }
  return { clock, driver: new OriginFallbackDriver({ originConcurrency: 4, unitBytes: piece, wanters: () => 8, now: () => clock.now, ...init }) }
}

/** Past the start's patience (one piece's origin time): the swarm trickles in at `bytesPerMs` for 16 s. */
function trickle ({ driver: d, clock }: ReturnType<typeof driver>, bytesPerMs: number): void {
  for (const end = clock.now + 16_000; clock.now < end;) {
    clock.now += 500
    d.swarmDelivered(bytesPerMs * 500)
  }
}

describe('the origin fallback driver: what this node expects of the origin', () => {
  it('before anything is seen: the low default per connection × connections ÷ the nodes that want the task', () => {
    const { driver: d } = driver()
    assert.equal(d.originBytesPerMs(), 1000 * 4 / 8)
  })

  it('learns the origin\'s rate from the pace of an elected seed\'s announcements of its own share', () => {
    const { driver: d, clock } = driver()
    d.ownerAnnounced('seed-a', 0, piece)
    clock.now = 1000
    d.ownerAnnounced('seed-a', 2, piece)
    clock.now = 2000
    d.ownerAnnounced('seed-a', 4, piece)
    // Two pieces after the first, in 2 s: 4 MiB/s to that seed.
    assert.equal(d.ownersOriginBytesPerMs(), 2 * piece / 2000)
    assert.equal(d.originBytesPerMs(), 2 * piece / 2000 / 8)
  })

  it('adds the elected seeds together (they fetch at once), and ignores a piece announced twice', () => {
    const { driver: d, clock } = driver()
    d.ownerAnnounced('seed-a', 0, piece)
    d.ownerAnnounced('seed-b', 1, piece)
    clock.now = 1000
    d.ownerAnnounced('seed-a', 2, piece)
    d.ownerAnnounced('seed-b', 3, piece)
    d.ownerAnnounced('seed-b', 3, piece)
    assert.equal(d.ownersOriginBytesPerMs(), 2 * piece / 1000)
  })

  it('takes nothing from announcements heard together (haves are batched): the default holds', () => {
    const { driver: d, clock } = driver()
    d.ownerAnnounced('seed-a', 0, piece)
    clock.now = 100
    d.ownerAnnounced('seed-a', 2, piece)
    d.ownerAnnounced('seed-a', 4, piece)
    assert.equal(d.ownersOriginBytesPerMs(), undefined)
    assert.equal(d.originBytesPerMs(), 1000 * 4 / 8)
  })

  it('prefers its own origin fetches to what it saw of the seeds', () => {
    const { driver: d, clock } = driver()
    d.ownerAnnounced('seed-a', 0, piece)
    clock.now = 1000
    d.ownerAnnounced('seed-a', 2, piece)
    d.originFetched(piece, 2000)
    assert.equal(d.originBytesPerMs(), piece / 2000 * 4 / 8)
  })

  it('a holder slower than the origin the seeds were seen to get is overtaken; with only the default it is not', () => {
    // The bench's slow-host round: 8 nodes, an elected seed that uploads at 1 MB/s to 7 others
    // (≈ 140 bytes/ms per piece each) while the origin gave the two seeds 10 MB/s together.
    const slowHolder = 140
    const view = (d: OriginFallbackDriver): number[] => d.choose({
      remainingBytes: 8 * piece,
      originInFlightBytes: 0,
      slots: 4,
      candidates: () => [0, 1, 2, 3].map(index => ({ index, bytes: piece, holderBytesPerMs: slowHolder }))
    })
    const seen = driver()
    seen.driver.swarmDelivered(piece)
    seen.driver.ownerAnnounced('seed-a', 0, piece)
    seen.driver.ownerAnnounced('seed-b', 1, piece)
    seen.clock.now = 4000
    seen.driver.ownerAnnounced('seed-a', 2, piece)
    seen.driver.ownerAnnounced('seed-a', 4, piece)
    seen.driver.ownerAnnounced('seed-a', 6, piece)
    seen.driver.ownerAnnounced('seed-b', 3, piece)
    seen.driver.ownerAnnounced('seed-b', 5, piece)
    seen.driver.ownerAnnounced('seed-b', 7, piece)
    trickle(seen, slowHolder)
    assert.ok(view(seen.driver).length > 0, 'the slow holder\'s pieces go to the origin')

    const blind = driver()
    blind.driver.swarmDelivered(piece)
    blind.clock.now = 4000
    trickle(blind, slowHolder)
    assert.deepEqual(view(blind.driver), [])
  })
})
