import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chooseOriginPieces, type OriginCandidate } from '../../src/scheduling/origin-choice.js'
import { seededRandom } from '../../src/scheduling/seeded-random.js'
import { OriginFallbackDriver, originCandidates, type CandidateSource } from '../../src/task/origin-fallback-driver.js'

const MiB = 1 << 20
const piece = 4 * MiB

/** `count` pieces of 4 MiB, each with the given best holder rate. */
function candidates (rates: Array<number | undefined>): OriginCandidate[] {
  return rates.map((holderBytesPerMs, index) => ({ index, bytes: piece, holderBytesPerMs }))
}

describe('chooseOriginPieces: the origin takes what the swarm serves worst, within a budget', () => {
  const base = { remainingBytes: 16 * piece, unitBytes: piece, sinceSwarmProgressMs: 0, originInFlightBytes: 0, slots: 4 }

  it('takes nothing from a healthy swarm, not even pieces nobody holds yet', () => {
    const choice = chooseOriginPieces({ ...base, swarmBytesPerMs: 5000, originBytesPerMs: 1250, candidates: candidates([0, 0, 5000, undefined]) })
    assert.equal(choice.decision.reason, 'on-time')
    assert.deepEqual(choice.pieces, [])
  })

  it('sends the pieces whose only holders are far slower than the origin share there, slowest first', () => {
    // The swarm brings 200 B/ms (a 1 MB/s seed shared five ways), the origin would give 1250.
    const choice = chooseOriginPieces({ ...base, swarmBytesPerMs: 200, originBytesPerMs: 1250, candidates: candidates([5000, 300, undefined, 150, 2000]) })
    assert.equal(choice.decision.reason, 'late')
    // 150 and 300 B/ms holders are late against 1250 / 1.25; the 2000 and 5000 B/ms ones, and the
    // one not measured yet, are not.
    assert.deepEqual(choice.pieces, [3, 1])
  })

  it('leaves the download\'s first patience to the swarm, however slow it reads while starting', () => {
    const late = { ...base, swarmBytesPerMs: 100, originBytesPerMs: 1250, candidates: candidates([0, 50]) }
    // One piece from the origin at this node's share: 3.4 s.
    assert.deepEqual(chooseOriginPieces({ ...late, sinceStartMs: 3000 }).pieces, [])
    assert.deepEqual(chooseOriginPieces({ ...late, sinceStartMs: 3500 }).pieces, [0, 1])
  })

  it('takes pieces nobody holds before slow ones, in the order given', () => {
    const choice = chooseOriginPieces({ ...base, swarmBytesPerMs: 100, originBytesPerMs: 2000, candidates: candidates([100, 0, 50, 0]) })
    assert.deepEqual(choice.pieces, [1, 3, 2, 0])
  })

  it('waits for a silent swarm about one piece\'s origin time, then takes pieces nobody holds, not those of a holder never asked', () => {
    // 4 MiB at 1250 B/ms: 3.4 s, not the old fixed 10 s.
    const patienceMs = piece / 1250
    const silent = { ...base, swarmBytesPerMs: 0, originBytesPerMs: 1250, candidates: candidates([0, undefined, 0]) }
    assert.deepEqual(chooseOriginPieces({ ...silent, sinceSwarmProgressMs: patienceMs - 100 }).pieces, [])
    const late = chooseOriginPieces({ ...silent, sinceSwarmProgressMs: patienceMs + 100 })
    assert.equal(late.decision.reason, 'stalled')
    assert.deepEqual(late.pieces, [0, 2])
    assert.ok(patienceMs < 10_000)
  })

  it('never starts a piece once the budget is spent, counting what the origin already fetches', () => {
    const random = seededRandom(12)
    for (let round = 0; round < 500; round++) {
      const count = 1 + Math.floor(random() * 40)
      const list = candidates(Array.from({ length: count }, () => random() < 0.4 ? 0 : random() < 0.5 ? undefined : random() * 3000))
      const input = {
        remainingBytes: (count + Math.floor(random() * 10)) * piece,
        unitBytes: piece,
        swarmBytesPerMs: random() < 0.2 ? 0 : random() * 4000,
        originBytesPerMs: random() * 4000,
        sinceSwarmProgressMs: random() * 20_000,
        originInFlightBytes: Math.floor(random() * 6) * piece,
        slots: Math.floor(random() * 8),
        candidates: list
      }
      const choice = chooseOriginPieces(input)
      const budget = choice.decision.originBytes - input.originInFlightBytes
      assert.equal(choice.budgetBytes, budget)
      assert.ok(choice.pieces.length <= Math.max(0, input.slots))
      assert.equal(new Set(choice.pieces).size, choice.pieces.length, 'no piece twice')
      // Each piece starts with budget left: all but the last fit in it.
      const bytes = choice.pieces.length * piece
      if (choice.pieces.length > 0) assert.ok(bytes - piece < budget, `round ${round}: ${bytes} bytes for a budget of ${budget}`)
      if (budget <= 0) assert.deepEqual(choice.pieces, [])
    }
  })
})

describe('OriginFallbackDriver (injected clock)', () => {
  function driverAt (init: { wanters?: number, connection?: number } = {}): { driver: OriginFallbackDriver, clock: { now: number } } {
    const clock = { now: 0 }
    const driver = new OriginFallbackDriver({ originConcurrency: 4, unitBytes: piece, wanters: () => init.wanters ?? 8, defaultConnectionBytesPerMs: init.connection, now: () => clock.now })
    return { driver, clock }
  }
  const view = (list: OriginCandidate[], originInFlightBytes = 0): Parameters<OriginFallbackDriver['choose']>[0] => ({ remainingBytes: 16 * piece, originInFlightBytes, slots: 4, candidates: () => list })

  it('shares the origin among the nodes that want the task, with a low default until one connection was measured', () => {
    const { driver } = driverAt()
    assert.equal(driver.originBytesPerMs(), 1000 * 4 / 8)
    driver.originFetched(piece, piece / 2500)
    assert.equal(driver.originBytesPerMs(), 2500 * 4 / 8)
  })

  it('leaves the start to the swarm: nothing before one piece\'s origin time has passed in silence', () => {
    const { driver, clock } = driverAt()
    let asked = 0
    const list = candidates([0, 0])
    const counting = { ...view(list), candidates: () => { asked++; return list } }
    clock.now = piece / 500 - 1
    assert.deepEqual(driver.choose(counting), [])
    assert.equal(asked, 0, 'no pass over the pieces while there is no budget')
    clock.now = piece / 500 + 1
    assert.deepEqual(driver.choose(counting), [0, 1])
  })

  it('a busy answer is the swarm at work: the silence starts again', () => {
    const { driver, clock } = driverAt()
    clock.now = 8000
    driver.swarmAnswered()
    clock.now = 8000 + piece / 500 - 1
    assert.deepEqual(driver.choose(view(candidates([0]))), [])
  })

  it('healthy swarm: bytes arriving at 5 MB/s leave the origin alone; a trickle does not', () => {
    const { driver, clock } = driverAt({ connection: 2500 })
    for (let ms = 0; ms < 4000; ms += 100) {
      clock.now = ms
      driver.swarmDelivered(500 * 1024)
    }
    assert.deepEqual(driver.choose(view(candidates([0, 100, undefined]))), [])
    // Then one block a second, 64 KiB: 65 B/ms against 1250 for the origin; a holder giving a
    // piece 100 B/ms is late against one origin request of this node (1250 / 4).
    for (let ms = 4000; ms < 20_000; ms += 1000) {
      clock.now = ms
      driver.swarmDelivered(64 * 1024)
    }
    assert.deepEqual(driver.choose(view(candidates([0, 100, undefined]))), [0, 1])
    // What the origin already fetches counts against the budget.
    assert.deepEqual(driver.choose(view(candidates([0, 100, undefined]), 16 * piece)), [])
  })
})

describe('originCandidates', () => {
  it('lists wanted pieces first, then from this node\'s start round, with each piece\'s best holder', () => {
    const holders: Record<number, string[]> = { 1: ['slow'], 2: ['slow', 'fast'], 3: ['slow', 'new'], 6: ['owner'] }
    const rates: Record<string, number | undefined> = { slow: 100, fast: 4000, new: undefined, owner: 50 }
    const source: CandidateSource = {
      pieceCount: 7,
      wanted: [4],
      start: 2,
      skip: index => index === 5,
      holders: index => holders[index] ?? [],
      rate: peer => rates[peer],
      // A live seed's share: one it has not fetched (0) is left to it; one it holds (6) is late.
      owned: index => index === 0 || index === 6,
      size: () => piece
    }
    const list = originCandidates(source)
    assert.deepEqual(list.map(({ index, holderBytesPerMs }) => [index, holderBytesPerMs]), [[4, 0], [2, 4000], [3, undefined], [6, 50], [1, 100]])
    // Owners that cover each other: their shares are theirs, held or not.
    const covered = originCandidates({ ...source, ownersCover: true })
    assert.deepEqual(covered.map(({ index }) => index), [4, 2, 3, 1])
  })
})
