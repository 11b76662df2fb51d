import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PiecePicker } from '../../src/scheduling/piece-picker.js'
import { ShareHandover } from '../../src/scheduling/share-handover.js'
import { Bitmap } from '../../src/storage/bitmap.js'
import { PiecePlan } from '../../src/task/piece-plan.js'
import { nextSharePiece, type OriginPlan, type ShareFetchState } from '../../src/task/share-fetch.js'

const MiB = 1024 * 1024
const pieceCount = 16

/**
 * An elected seed `self` beside one more, `other`: the two split 16 pieces of 1 MiB. Its state is
 * the real picker and handover over a bitmap; the test sets what is held, wanted and in flight.
 */
function seed (init: { plan?: OriginPlan, uplinkBytesPerMs?: number, othersWanting?: number, partnerTakesOver?: boolean } = {}) {
  const handover = new ShareHandover({ taskKey: 'task', elected: ['self', 'other'], self: 'self', pieceCount, stallMs: 10_000 })
  const mine = Array.from({ length: pieceCount }, (_, index) => index).filter(index => handover.ownerOf(index) === 'self')
  const theirs = Array.from({ length: pieceCount }, (_, index) => index).filter(index => handover.ownerOf(index) === 'other')
  const bitmap = new Bitmap(pieceCount)
  const picker = new PiecePicker({}, { pieceCount, pieceBytes: MiB })
  picker.peerBitmap('other', new Bitmap(pieceCount))
  const wanted = new Set<number>()
  const busy = new Set<number>()
  let inFlight = 0
  const state = (): ShareFetchState => ({
    task: { wantedPieces: wanted, bitmap, plan: new PiecePlan(pieceCount * MiB, MiB) },
    plan: init.plan ?? new Set(mine),
    picker,
    handover,
    busy,
    originInFlightBytes: inFlight * MiB,
    self: 'self',
    uplinkBytesPerMs: init.uplinkBytesPerMs ?? 5000,
    unsharedBytes: Array.from({ length: pieceCount }, (_, index) => index).filter(index => bitmap.has(index) && picker.holdersOf(index).length === 0).length * MiB,
    partnerTakesOver: init.partnerTakesOver ?? true,
    othersWanting: init.othersWanting ?? 7,
    mayTakeFrom: () => true,
    originPieceMs: 300
  })
  /** This node now holds `index` (the origin's piece landed). */
  const land = (index: number): void => { bitmap.set(index); picker.held(index) }
  return { mine, theirs, picker, wanted, busy, state, land, setInFlight: (count: number) => { inFlight = count } }
}

describe('nextSharePiece (what an elected seed fetches from the origin)', () => {
  it('fetches its own share in order, a piece a client waits for first', () => {
    const s = seed()
    assert.equal(nextSharePiece(s.state()), s.mine[0])
    s.wanted.add(s.mine[3]!)
    assert.equal(nextSharePiece(s.state()), s.mine[3])
    s.wanted.add(s.theirs[0]!)
    s.wanted.delete(s.mine[3]!)
    assert.equal(nextSharePiece(s.state()), s.mine[0], 'a wanted piece of the other share is not its to fetch')
  })

  it('takes a piece of its share that a peer already holds from the peer, not from the origin', () => {
    const s = seed()
    s.picker.peerHas('other', s.mine[0]!)
    assert.equal(nextSharePiece(s.state()), s.mine[1])
  })

  it('with the plan `all` (a copy that failed its check) fetches everything from the origin, held by peers or not', () => {
    const s = seed({ plan: 'all' })
    s.picker.peerHas('other', 0)
    assert.equal(nextSharePiece(s.state()), 0)
  })

  it('holds back while a slow uplink has its pieces ahead, a waited-for piece too', () => {
    const s = seed({ uplinkBytesPerMs: 1000 })
    s.land(s.mine[0]!)
    s.setInFlight(1)
    assert.equal(nextSharePiece(s.state()), undefined, 'one held by nobody else and one in flight: the floor of two')
    s.wanted.add(s.mine[5]!)
    assert.equal(nextSharePiece(s.state()), undefined)
    s.picker.peerHas('other', s.mine[0]!)
    assert.equal(nextSharePiece(s.state()), s.mine[5], 'passed on: the next may start')
  })

  it('runs ahead freely when nobody else wants the task, or no partner would take over its lag', () => {
    const s = seed({ uplinkBytesPerMs: 1000, othersWanting: 0 })
    for (const index of s.mine.slice(0, 6)) s.land(index)
    assert.equal(nextSharePiece(s.state()), s.mine[6])
    const alone = seed({ uplinkBytesPerMs: 1000, partnerTakesOver: false })
    for (const index of alone.mine.slice(0, 6)) alone.land(index)
    assert.equal(nextSharePiece(alone.state()), alone.mine[6])
  })

  it('once its share is done, takes the other seed\'s from the far end, short of its cursor and margin', () => {
    const s = seed()
    for (const index of s.mine) s.land(index)
    s.picker.peerHas('other', s.theirs[0]!)
    // The other seed announced nothing lately: margin 2 past its cursor (theirs[1]).
    const taken: number[] = []
    for (let next = nextSharePiece(s.state()); next !== undefined; next = nextSharePiece(s.state())) {
      taken.push(next)
      s.busy.add(next)
    }
    assert.deepEqual(taken, s.theirs.slice(3).reverse())
  })

  it('takes nothing of another share while its own is unfinished', () => {
    const s = seed()
    for (const index of s.mine.slice(0, -1)) s.land(index)
    s.busy.add(s.mine.at(-1)!)
    assert.equal(nextSharePiece(s.state()), s.theirs.at(-1), 'the last own piece in flight: its share is done')
    s.busy.delete(s.mine.at(-1)!)
    assert.equal(nextSharePiece(s.state()), s.mine.at(-1))
  })
})
