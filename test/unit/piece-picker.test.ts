import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Bitmap } from '../../src/storage/bitmap.js'
import { PiecePicker } from '../../src/scheduling/piece-picker.js'
import { PeerScores } from '../../src/scheduling/peer-scores.js'
import { seededRandom as seeded } from '../../src/scheduling/seeded-random.js'


function bitmapOf (size: number, pieces: Iterable<number>): Bitmap {
  const bitmap = new Bitmap(size)
  for (const index of pieces) bitmap.set(index)
  return bitmap
}

function range (start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, offset) => start + offset)
}

/** Ask `peerId` for pieces until the picker has nothing more, recording each request. */
function drain (picker: PiecePicker, peerId: string): number[] {
  const picked: number[] = []
  for (let index = picker.next(peerId); index !== undefined; index = picker.next(peerId)) {
    picker.requested(peerId, index)
    picked.push(index)
  }
  return picked
}

describe('piece picker: choosing', () => {
  it('asks for the rarest piece first', () => {
    const picker = new PiecePicker({}, { pieceCount: 4, random: () => 0 })
    picker.peerBitmap('a', bitmapOf(4, [0, 1, 2, 3]))
    picker.peerBitmap('b', bitmapOf(4, [0, 1, 2]))
    picker.peerBitmap('c', bitmapOf(4, [0, 1]))
    // availability: 0→3, 1→3, 2→2, 3→1
    assert.deepEqual(drain(picker, 'a'), [3, 2, 0, 1])
  })

  it('picks among equally rare pieces at random, reproducibly under a seed', () => {
    const order = (seed: number): number[] => {
      const picker = new PiecePicker({}, { pieceCount: 16, maxInFlightPerPeer: 16, random: seeded(seed) })
      picker.peerBitmap('a', bitmapOf(16, range(0, 16)))
      return drain(picker, 'a')
    }
    const first = order(7)
    assert.deepEqual(order(7), first)
    assert.notDeepEqual(order(8), first)
    assert.notDeepEqual(first, range(0, 16))
    assert.deepEqual([...first].sort((a, b) => a - b), range(0, 16))
  })

  it('takes equally rare pieces in file order while told nobody else wants them, at random again once someone does', () => {
    let alone = true
    const picker = new PiecePicker({}, { pieceCount: 16, maxInFlightPerPeer: 4, random: seeded(7), inOrder: () => alone })
    picker.peerBitmap('a', bitmapOf(16, range(0, 16)))
    picker.peerBitmap('b', bitmapOf(16, [12]))
    // Rarest first still comes first: piece 12 has two holders, so it waits.
    assert.deepEqual(drain(picker, 'a'), [0, 1, 2, 3])
    for (const index of [0, 1, 2, 3]) picker.completed('a', index)
    alone = false
    const later = drain(picker, 'a')
    assert.notDeepEqual(later, [4, 5, 6, 7], 'random among ties again')
    assert.ok(!later.includes(12))
  })

  it('never proposes a piece we hold, the peer lacks, or one already in flight', () => {
    const random = seeded(42)
    for (let trial = 0; trial < 200; trial++) {
      const pieceCount = 1 + Math.floor(random() * 40)
      const held = bitmapOf(pieceCount, range(0, pieceCount).filter(() => random() < 0.4))
      const picker = new PiecePicker({}, { pieceCount, held, endgameThreshold: 0, maxInFlightPerPeer: 100, random })
      const views = new Map<string, Bitmap>()
      for (const peerId of ['a', 'b', 'c']) {
        const view = bitmapOf(pieceCount, range(0, pieceCount).filter(() => random() < 0.5))
        views.set(peerId, view)
        picker.peerBitmap(peerId, view)
      }
      const requested = new Set<number>()
      for (const peerId of ['a', 'b', 'c', 'a']) {
        for (const index of drain(picker, peerId)) {
          assert.ok(!held.has(index), `piece ${index} is already held`)
          assert.ok(views.get(peerId)!.has(index), `peer ${peerId} lacks piece ${index}`)
          assert.ok(!requested.has(index), `piece ${index} was already in flight`)
          requested.add(index)
        }
      }
      // Everything some peer has and we lack was requested exactly once.
      const reachable = range(0, pieceCount).filter(index => !held.has(index) && [...views.values()].some(view => view.has(index)))
      assert.deepEqual([...requested].sort((a, b) => a - b), reachable)
    }
  })

  it('keeps at most maxInFlightPerPeer requests outstanding at one peer', () => {
    const picker = new PiecePicker({}, { pieceCount: 10, maxInFlightPerPeer: 2, endgameThreshold: 0 })
    picker.peerBitmap('a', bitmapOf(10, range(0, 10)))
    const [first, second] = drain(picker, 'a')
    assert.equal(picker.inFlightCount('a'), 2)
    assert.equal(picker.next('a'), undefined)
    assert.deepEqual(picker.completed('a', first!), [])
    assert.notEqual(picker.next('a'), undefined)
    picker.failed('a', second!, 'error')
    assert.equal(picker.inFlightCount('a'), 0)
    assert.ok(!picker.isHeld(second!))
  })

  it('puts wanted pieces before rarity, lowest first, and forgets them once held', () => {
    const picker = new PiecePicker({}, { pieceCount: 8, maxInFlightPerPeer: 8, random: () => 0 })
    picker.peerBitmap('a', bitmapOf(8, [...range(0, 6), 7]))
    picker.peerBitmap('b', bitmapOf(8, range(0, 8)))
    picker.peerBitmap('c', bitmapOf(8, [6, 7]))
    picker.wanted(5)
    picker.wanted(2)
    assert.equal(picker.next('a'), 2)
    picker.requested('a', 2)
    assert.equal(picker.next('a'), 5)
    picker.requested('a', 5)
    assert.equal(picker.next('a'), 0, 'then the rarest (every other piece of a is held by two peers)')
    picker.held(5)
    picker.unwanted(2)
    picker.failed('a', 2, 'error')
    picker.peerBitmap('a', bitmapOf(8, [1, 2, 3]))
    picker.peerBitmap('b', bitmapOf(8, [1, 2, 3]))
    picker.peerBitmap('c', bitmapOf(8, [2]))
    assert.equal(picker.next('a'), 1, 'an unwanted piece goes back to plain rarity (2 is the most common)')
  })

  it('asks a peer that alone holds pieces we lack for those, and a wanted piece of others', () => {
    const picker = new PiecePicker({}, { pieceCount: 8, maxInFlightPerPeer: 8, random: () => 0 })
    // The seed alone holds 6 and 7; the client waits for 2, which b holds too.
    picker.peerBitmap('seed', bitmapOf(8, range(0, 8)))
    picker.peerBitmap('b', bitmapOf(8, range(0, 6)))
    picker.wanted(2)
    assert.equal(picker.next('seed'), 6, 'the seed is asked for what only it holds')
    picker.requested('seed', 6)
    assert.equal(picker.next('b'), 2, 'the wanted piece comes from b')
    picker.requested('b', 2)
    assert.equal(picker.next('seed'), 7)
    picker.requested('seed', 7)
    picker.failed('b', 2, 'error')
    assert.equal(picker.next('seed'), 2, 'with its sole pieces in flight, the seed may serve the wanted piece')
    picker.wanted(7)
    picker.failed('seed', 7, 'error')
    assert.equal(picker.next('seed'), 7, 'a wanted piece that only the seed holds is asked of it first')
  })

  it('offers nothing to a peer it does not know, and nothing once complete', () => {
    const picker = new PiecePicker({}, { pieceCount: 2 })
    assert.equal(picker.next('stranger'), undefined)
    picker.peerBitmap('a', bitmapOf(2, [0, 1]))
    picker.held(0)
    picker.held(1)
    assert.ok(picker.complete)
    assert.equal(picker.next('a'), undefined)
  })
})

/** Measured rates for the endgame, bytes per ms, by requester; absent: not measured. */
function ratesOf (table: Record<string, number>): { bytesPerMs: (peerId: string) => number | undefined } {
  return { bytesPerMs: peerId => table[peerId] }
}

const MiB = 2 ** 20

describe('piece picker: endgame', () => {
  // Changed with the late-only endgame: duplicates used to be proposed as soon as the endgame
  // began; a request to an unmeasured holder is now duplicated only once it is unmeasuredLateMs old.
  it('duplicates late in-flight pieces to a second peer only when few remain, and completion names the duplicates', () => {
    let now = 0
    const picker = new PiecePicker({}, { pieceCount: 10, held: bitmapOf(10, range(0, 7)), endgameThreshold: 2, endgameShare: 1, unmeasuredLateMs: 1_000, now: () => now, random: () => 0 })
    for (const peerId of ['a', 'b', 'c']) picker.peerBitmap(peerId, bitmapOf(10, range(0, 10)))

    picker.requested('a', 7)
    now = 5
    picker.requested('a', 8)
    now = 10
    picker.requested('a', 9)
    now = 5_000
    assert.ok(!picker.endgame, '3 missing > threshold 2')
    assert.equal(picker.next('b'), undefined, 'no duplicates before endgame')

    assert.deepEqual(picker.completed('a', 9), [])
    assert.ok(picker.endgame)
    assert.equal(picker.next('b'), 7, 'the oldest request first')
    picker.requested('b', 7)
    assert.equal(picker.next('b'), 8)
    picker.requested('b', 8)
    assert.equal(picker.next('b'), undefined, 'b already fetches both')
    now = 10_000
    assert.equal(picker.next('c'), undefined, 'at most 2 requesters per piece, however late')

    assert.deepEqual(picker.completed('b', 7), ['a'])
    assert.deepEqual(picker.completed('a', 8), ['b'])
    assert.equal(picker.inFlightCount('a'), 0)
    assert.equal(picker.inFlightCount('b'), 0)
    assert.ok(picker.complete)
  })

  it('does not duplicate a request that is on time: only once it is lateSlack × older than its holder should need', () => {
    let now = 0
    // 4 MiB pieces; a and b both measured at 4 MiB/s (4194 bytes per ms): 1 s per piece.
    const rates = ratesOf({ a: 4 * MiB / 1000, b: 4 * MiB / 1000 })
    const picker = new PiecePicker({ rates }, { pieceCount: 64, held: bitmapOf(64, range(0, 63)), pieceBytes: 4 * MiB, now: () => now })
    picker.peerBitmap('a', bitmapOf(64, range(0, 64)))
    picker.peerBitmap('b', bitmapOf(64, range(0, 64)))
    picker.requested('a', 63)
    assert.ok(picker.endgame)
    now = 600
    assert.equal(picker.next('b'), undefined, 'a needs 1 s for it: not late at 0.6 s')
    now = 1_999
    assert.equal(picker.next('b'), undefined, 'not late before 2 × 1 s')
    now = 2_000
    assert.equal(picker.next('b'), 63, 'late at 2 × its expected time: b may fetch it too')
  })

  it('a request to a holder not measured yet is late after unmeasuredLateMs, or after fasterBy × a measured asker\'s time', () => {
    let now = 0
    const table: Record<string, number> = {}
    const picker = new PiecePicker({ rates: ratesOf(table) }, { pieceCount: 16, held: bitmapOf(16, range(0, 15)), pieceBytes: 4 * MiB, unmeasuredLateMs: 5_000, now: () => now })
    picker.peerBitmap('new', bitmapOf(16, range(0, 16)))
    picker.peerBitmap('b', bitmapOf(16, range(0, 16)))
    picker.requested('new', 15)
    now = 4_999
    assert.equal(picker.next('b'), undefined, 'neither measured: not late before the floor')
    now = 5_000
    assert.equal(picker.next('b'), 15)
    // Once b is measured (1 s for a piece), 4 s are enough to call the unmeasured holder late.
    now = 3_999
    table.b = 4 * MiB / 1000
    assert.equal(picker.next('b'), undefined)
    now = 4_000
    assert.equal(picker.next('b'), 15)
  })

  it('the last piece does not wait on a slow holder: an idle holder fasterBy × faster takes it at once (10 GB, 32 MiB pieces)', () => {
    let now = 0
    const pieceBytes = 32 * MiB
    const pieceCount = 300
    // slow: 1 MB/s (33 s per piece); fast: 50 MB/s (0.67 s); even: 5 MB/s (6.7 s).
    const rates = ratesOf({ slow: 1_000, fast: 50_000, even: 5_000, also: 5_000 })
    const picker = new PiecePicker({ rates }, { pieceCount, held: bitmapOf(pieceCount, range(0, pieceCount - 5)), pieceBytes, now: () => now })
    for (const peerId of ['slow', 'fast', 'even', 'also']) picker.peerBitmap(peerId, bitmapOf(pieceCount, range(0, pieceCount)))
    for (const index of range(pieceCount - 5, pieceCount - 1)) picker.requested('even', index)
    picker.requested('slow', pieceCount - 1)
    assert.ok(!picker.endgame, '5 missing: not yet endgame (at most 4 pieces)')
    picker.completed('even', pieceCount - 5)
    assert.ok(picker.endgame, '4 missing')
    now = 1_000
    assert.equal(picker.next('fast'), pieceCount - 1, 'the slow holder\'s piece goes to the idle fast one')
    picker.requested('fast', pieceCount - 1)
    assert.equal(picker.next('also'), undefined, 'the slow piece has two requesters; even\'s pieces are on time, and also is no faster than even')
    assert.deepEqual(picker.completed('fast', pieceCount - 1), ['slow'], 'the slow request is named for cancelling')
  })

  it('a holder a few times faster (per-piece rates include queueing at a busy uplink) does not duplicate; only fasterBy × faster does', () => {
    let now = 0
    // 4 MiB pieces. b measured while it served one peer: 0.84 s a piece (5 MB/s); a measured
    // while it served four: 3.4 s a piece. Equal links, so asking b too would waste its uplink.
    const table: Record<string, number> = { a: 4 * MiB / 3_400, b: 4 * MiB / 840 }
    const picker = new PiecePicker({ rates: ratesOf(table) }, { pieceCount: 16, held: bitmapOf(16, range(0, 15)), pieceBytes: 4 * MiB, now: () => now })
    picker.peerBitmap('a', bitmapOf(16, range(0, 16)))
    picker.peerBitmap('b', bitmapOf(16, range(0, 16)))
    picker.requested('a', 15)
    now = 500
    assert.equal(picker.next('b'), undefined, '2.9 s left at a, against 4 × 0.84 s at b')
    table.a = 4 * MiB / 6_000
    assert.equal(picker.next('b'), 15, '5.5 s left at a: b is more than 4 × faster')
  })

  it('a holder with our requests in flight is not idle: it does not take a slow holder\'s piece it would only queue', () => {
    let now = 0
    const rates = ratesOf({ slow: 1_000, fast: 50_000 })
    const picker = new PiecePicker({ rates }, { pieceCount: 300, held: bitmapOf(300, range(0, 298)), pieceBytes: 32 * MiB, now: () => now })
    picker.peerBitmap('slow', bitmapOf(300, range(0, 300)))
    picker.peerBitmap('fast', bitmapOf(300, range(0, 300)))
    picker.requested('slow', 299)
    picker.requested('fast', 298)
    now = 1_000
    assert.equal(picker.next('fast'), undefined, 'fast is busy with 298')
    picker.completed('fast', 298)
    assert.equal(picker.next('fast'), 299)
  })

  it('a 16-piece file enters endgame for its last 2 pieces, not for a quarter of its bytes', () => {
    let now = 0
    const picker = new PiecePicker({}, { pieceCount: 16, held: bitmapOf(16, range(0, 12)), unmeasuredLateMs: 1_000, now: () => now })
    picker.peerBitmap('a', bitmapOf(16, range(0, 16)))
    picker.peerBitmap('b', bitmapOf(16, range(0, 16)))
    for (const index of range(12, 16)) picker.requested('a', index)
    now = 60_000
    assert.ok(!picker.endgame, '4 of 16 missing')
    assert.equal(picker.next('b'), undefined, 'however late, no duplicate outside the endgame')
    picker.completed('a', 12)
    picker.completed('a', 13)
    assert.ok(picker.endgame, '2 of 16 missing')
    assert.equal(picker.next('b'), 14)
  })

  it('puts a late wanted piece first, and never duplicates an on-time wanted piece over a late one', () => {
    let now = 0
    const table: Record<string, number> = { a: 4 * MiB / 1000, b: 4 * MiB / 1000 }
    const picker = new PiecePicker({ rates: ratesOf(table) }, { pieceCount: 32, held: bitmapOf(32, range(0, 29)), pieceBytes: 4 * MiB, now: () => now })
    picker.peerBitmap('a', bitmapOf(32, range(0, 32)))
    picker.peerBitmap('b', bitmapOf(32, range(0, 32)))
    picker.peerBitmap('c', bitmapOf(32, range(0, 32)))
    picker.requested('a', 29)
    picker.requested('a', 30)
    now = 2_500
    picker.requested('b', 31)
    picker.wanted(31)
    assert.equal(picker.next('c'), 29, 'wanted 31 is on time (0 s of b\'s 1 s); 29 is late')
    picker.requested('c', 29)
    now = 4_500
    assert.equal(picker.next('c'), 31, 'now 31 is late too, and wanted: before 30')
  })

  it('lets a slow peer not hold up the end: a late duplicate finishes the task', () => {
    let now = 0
    const picker = new PiecePicker({ rates: ratesOf({ slow: 100, fast: 10_000 }) }, { pieceCount: 4, held: bitmapOf(4, [0, 1, 2]), now: () => now })
    picker.peerBitmap('slow', bitmapOf(4, [3]))
    picker.peerBitmap('fast', bitmapOf(4, [3]))
    assert.equal(picker.next('slow'), 3)
    picker.requested('slow', 3)
    now = 500
    assert.equal(picker.next('fast'), 3)
    picker.requested('fast', 3)
    assert.deepEqual(picker.completed('fast', 3), ['slow'])
    assert.ok(picker.complete)
    // The slow answer arriving later changes nothing.
    assert.deepEqual(picker.completed('slow', 3), [])
  })
})

describe('piece picker: peers and failures', () => {
  it('offers a banned peer nothing until its ban ends', () => {
    let now = 0
    const scores = new PeerScores({ now: () => now })
    const picker = new PiecePicker({ scores }, { pieceCount: 4 })
    picker.peerBitmap('bad', bitmapOf(4, [0, 1, 2, 3]))
    const index = picker.next('bad')!
    picker.requested('bad', index)
    picker.failed('bad', index, 'corrupt')
    scores.failed('bad', 'corrupt')
    assert.equal(picker.next('bad'), undefined)
    assert.deepEqual(picker.missingWithNoPeer(), [0, 1, 2, 3], 'a banned peer is not in reach')
    now = 10 * 60_000
    assert.notEqual(picker.next('bad'), undefined)
    assert.deepEqual(picker.missingWithNoPeer(), [])
  })

  it('names the holders of a piece, banned ones and departed ones left out (the origin fallback reads their rates)', () => {
    let now = 0
    const scores = new PeerScores({ now: () => now })
    const picker = new PiecePicker({ scores }, { pieceCount: 3 })
    picker.peerBitmap('a', bitmapOf(3, [0, 1]))
    picker.peerBitmap('b', bitmapOf(3, [1]))
    picker.peerBitmap('bad', bitmapOf(3, [1, 2]))
    scores.failed('bad', 'corrupt')
    assert.deepEqual(picker.holdersOf(0), ['a'])
    assert.deepEqual(picker.holdersOf(1).sort(), ['a', 'b'])
    assert.deepEqual(picker.holdersOf(2), [])
    picker.peerGone('a')
    assert.deepEqual(picker.holdersOf(1), ['b'])
    now = 60 * 60_000
    assert.deepEqual(picker.holdersOf(2), ['bad'], 'a ban that ended')
  })

  it('drops a refused piece from that peer until it announces it again', () => {
    const picker = new PiecePicker({}, { pieceCount: 2, endgameThreshold: 0 })
    picker.peerBitmap('a', bitmapOf(2, [1]))
    picker.requested('a', 1)
    picker.failed('a', 1, 'refused')
    assert.equal(picker.next('a'), undefined)
    assert.deepEqual(picker.missingWithNoPeer(), [0, 1])
    picker.peerHas('a', 1)
    assert.equal(picker.next('a'), 1)
  })

  it('frees a departed peer\'s requests and lowers availability', () => {
    const picker = new PiecePicker({}, { pieceCount: 6, endgameThreshold: 0, random: () => 0 })
    picker.peerBitmap('a', bitmapOf(6, [0, 1, 2, 3]))
    picker.peerHas('b', 0)
    picker.peerHas('b', 1)
    assert.deepEqual(picker.missingWithNoPeer(), [4, 5])
    assert.deepEqual(drain(picker, 'a'), [2, 3, 0, 1])
    assert.deepEqual(picker.peerGone('a'), [0, 1, 2, 3])
    assert.equal(picker.inFlightCount('a'), 0)
    assert.deepEqual(picker.missingWithNoPeer(), [2, 3, 4, 5])
    assert.deepEqual(drain(picker, 'b'), [0, 1], 'pieces freed by the departure can be asked elsewhere')
    picker.peerLacks('b', 0)
    picker.held(1)
    assert.deepEqual(picker.missingWithNoPeer(), [0, 2, 3, 4, 5])
  })

  it('reports requests older than the timeout, oldest first', () => {
    let now = 1_000
    const picker = new PiecePicker({}, { pieceCount: 4, requestTimeoutMs: 500, now: () => now })
    picker.requested('a', 2)
    now = 1_200
    picker.requested('b', 0)
    now = 1_499
    assert.deepEqual(picker.expired(), [])
    now = 1_700
    assert.deepEqual(picker.expired(), [{ peerId: 'a', index: 2, since: 1_000 }, { peerId: 'b', index: 0, since: 1_200 }])
    picker.failed('a', 2, 'timeout')
    assert.deepEqual(picker.expired(), [{ peerId: 'b', index: 0, since: 1_200 }])
  })

  it('rejects pieces outside the task and bitmaps of the wrong size', () => {
    const picker = new PiecePicker({}, { pieceCount: 4 })
    assert.throws(() => { picker.peerHas('a', 4) }, RangeError)
    assert.throws(() => { picker.requested('a', -1) }, RangeError)
    assert.throws(() => { picker.peerBitmap('a', new Bitmap(5)) }, RangeError)
    assert.throws(() => new PiecePicker({}, { pieceCount: 0 }), RangeError)
  })
})

interface SwarmResult {
  rounds: number
  seedUploads: number
  peerUploads: number
  cancelled: number
  allComplete: boolean
}

/**
 * A swarm in lockstep rounds: one seed holding every piece and `peerCount` empty peers, all
 * connected. Each round, transfers requested the round before complete (with `have` sent to
 * everyone, endgame duplicates cancelled), then every peer asks `next` of every neighbour
 * until each pipeline is full.
 */
function simulateSwarm (pieceCount: number, peerCount: number, seed: number): SwarmResult {
  const random = seeded(seed)
  let round = 0
  const peerIds = range(0, peerCount).map(n => `peer-${n}`)
  const pickers = new Map(peerIds.map(peerId => [peerId, new PiecePicker({}, { pieceCount, random, now: () => round })]))
  for (const picker of pickers.values()) {
    picker.peerBitmap('seed', bitmapOf(pieceCount, range(0, pieceCount)))
    for (const other of peerIds) picker.peerBitmap(other, new Bitmap(pieceCount))
  }
  let pending: Array<{ from: string, to: string, index: number, cancelled: boolean }> = []
  const result = { rounds: 0, seedUploads: 0, peerUploads: 0, cancelled: 0, allComplete: false }
  for (round = 1; round <= 10 * pieceCount; round++) {
    for (const transfer of pending) {
      if (transfer.cancelled) continue
      const duplicates = pickers.get(transfer.to)!.completed(transfer.from, transfer.index)
      for (const other of pending) {
        if (other.to === transfer.to && other.index === transfer.index && duplicates.includes(other.from) && !other.cancelled) {
          other.cancelled = true
          result.cancelled++
        }
      }
      if (transfer.from === 'seed') result.seedUploads++
      else result.peerUploads++
      for (const [peerId, picker] of pickers) if (peerId !== transfer.to) picker.peerHas(transfer.to, transfer.index)
    }
    pending = []
    if ([...pickers.values()].every(picker => picker.complete)) {
      result.allComplete = true
      break
    }
    for (const [peerId, picker] of pickers) {
      for (const neighbour of ['seed', ...peerIds.filter(other => other !== peerId)]) {
        for (const index of drain(picker, neighbour)) pending.push({ from: neighbour, to: peerId, index, cancelled: false })
      }
    }
  }
  result.rounds = round
  return result
}

describe('piece picker: a simulated swarm', () => {
  it('completes every peer while the seed uploads each piece only about once', () => {
    const pieceCount = 256
    const peerCount = 8
    const swarm = simulateSwarm(pieceCount, peerCount, 1)
    console.log(`swarm of ${peerCount} peers, ${pieceCount} pieces: ${JSON.stringify(swarm)} (seed uploads ${(swarm.seedUploads / pieceCount).toFixed(2)}× the file)`)
    assert.ok(swarm.allComplete)
    assert.equal(swarm.seedUploads + swarm.peerUploads, peerCount * pieceCount, 'every piece delivered once per peer')
    // Without trading the seed would upload 8×; measured 1.38× (random seed 1; 1.28-1.38× over seeds 1-10).
    assert.ok(swarm.seedUploads <= 1.5 * pieceCount, `seed uploaded ${swarm.seedUploads}`)
    assert.ok(swarm.rounds <= 20, `took ${swarm.rounds} rounds`)
  })

  it('has the seed upload each piece about once as files grow, whatever the random seed', () => {
    // Measured over random seeds 1-10: 64 pieces 2.00×, 256 pieces 1.28-1.38×, 1000 pieces
    // 1.09-1.12× (and 16 pieces 4.00×: in round one 8 peers × 4 slots ask the seed for 32
    // pieces before anyone has anything to trade). The excess over 1× is that start-up cost.
    for (const [pieceCount, bound] of [[64, 2.1], [256, 1.5], [1000, 1.2]] as const) {
      for (const seed of [2, 3]) {
        const swarm = simulateSwarm(pieceCount, 8, seed)
        console.log(`swarm of 8 peers, ${pieceCount} pieces, random seed ${seed}: ${JSON.stringify(swarm)} (seed uploads ${(swarm.seedUploads / pieceCount).toFixed(2)}× the file)`)
        assert.ok(swarm.allComplete)
        assert.ok(swarm.seedUploads <= bound * pieceCount, `seed uploaded ${swarm.seedUploads} of ${pieceCount}`)
      }
    }
  })
})
