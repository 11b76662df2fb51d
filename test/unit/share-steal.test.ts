import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { stealablePieces, stealMargin, type ShareStealInput } from '../../src/scheduling/share-steal.js'

/** 24 pieces: `self` owns 0-7, `slow` 8-15, `old` (an older release) 16-23. */
function input (overrides: Partial<Omit<ShareStealInput, 'taken'>> & { holds?: Record<string, number[]>, taken?: number[] } = {}): ShareStealInput {
  const { holds = {}, taken: takenList = [], ...rest } = overrides
  const taken = new Set(takenList)
  return {
    pieceCount: 24,
    self: 'self',
    ownerOf: index => index < 8 ? 'self' : index < 16 ? 'slow' : 'old',
    ownerHolds: (owner, index) => holds[owner]?.includes(index) === true,
    taken: index => taken.has(index),
    mayTakeFrom: owner => owner !== 'old',
    margin: () => 3,
    ...rest
  }
}

describe('stealablePieces (another seed\'s share, from its far end)', () => {
  it('takes a lagging owner\'s share from the far end, leaving `margin` pieces past its cursor', () => {
    // slow holds 8 and 9: its cursor is 10, so 10, 11, 12 stay its own.
    assert.deepEqual(stealablePieces(input({ holds: { slow: [8, 9] } })), [15, 14, 13])
  })

  it('skips pieces held (by anyone) or being fetched, and reads the cursor as the first piece the owner lacks', () => {
    // slow got 12 from a peer: its cursor is still 8 (it fetches in order), so 8-10 stay its own.
    assert.deepEqual(stealablePieces(input({ holds: { slow: [12] }, taken: [12, 15] })), [14, 13, 11])
  })

  it('takes nothing from an owner that holds its share, nor from one of an older release', () => {
    assert.deepEqual(stealablePieces(input({ holds: { slow: [8, 9, 10, 11, 12, 13, 14, 15] } })), [])
    assert.deepEqual(stealablePieces(input({ mayTakeFrom: () => true, holds: { slow: [8, 9, 10, 11, 12, 13, 14, 15] } })), [23, 22, 21, 20, 19])
  })

  it('never takes its own share, and starts with the owner furthest behind', () => {
    const owners = (index: number): string => index < 4 ? 'self' : index < 12 ? 'a' : 'b'
    const list = stealablePieces(input({ pieceCount: 20, ownerOf: owners, mayTakeFrom: () => true, holds: { a: [4, 5, 6, 7, 8] } }))
    // a's cursor 9: 12+ would be past its share; 9-11 are its margin: nothing. b's cursor 12: 15-19.
    assert.deepEqual(list, [19, 18, 17, 16, 15])
    const both = stealablePieces(input({ pieceCount: 20, ownerOf: owners, mayTakeFrom: () => true, margin: () => 1, holds: { a: [4, 5, 6, 7, 8] } }))
    assert.deepEqual(both, [19, 18, 17, 16, 15, 14, 13, 11, 10])
  })
})

describe('stealMargin (pieces left to an owner past its cursor)', () => {
  it('leaves a paced owner three pieces', () => {
    // A piece in 4 s, pieces taking 300 ms here: 0.25/s × (450 + 300) ms ≈ 0.2 pieces unseen.
    assert.equal(stealMargin({ ownerPiecesPerMs: 0.25 / 1000, originPieceMs: 300 }), 3)
    assert.equal(stealMargin({ ownerPiecesPerMs: 0, originPieceMs: 300 }), 2)
  })

  it('leaves a fast owner what it may fetch before its announcements reach us', () => {
    // 3 pieces a second taking 800 ms each: 3 × (1.2 + 0.3) = 4.5 unseen.
    assert.equal(stealMargin({ ownerPiecesPerMs: 3 / 1000, originPieceMs: 800 }), 7)
    // An uncapped origin: 100 pieces a second, 10 ms each: 31.5 unseen.
    assert.equal(stealMargin({ ownerPiecesPerMs: 100 / 1000, originPieceMs: 10 }), 34)
  })

  it('assumes a second per origin piece before one was timed here', () => {
    assert.equal(stealMargin({ ownerPiecesPerMs: 1 / 1000, originPieceMs: undefined }), 4)
    assert.equal(stealMargin({ ownerPiecesPerMs: 1 / 1000, originPieceMs: undefined }, { defaultPieceMs: 3000, haveLagMs: 0 }), 7)
  })
})
