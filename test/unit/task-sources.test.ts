import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { displayName } from '../../src/admin/status-report.js'
import { Bitmap } from '../../src/storage/bitmap.js'
import type { TaskMeta } from '../../src/storage/task-meta.js'
import { Task } from '../../src/task/task.js'

const MiB = 1024 * 1024

function meta (held: number[]): TaskMeta {
  const bitmap = new Bitmap(4)
  for (const index of held) bitmap.set(index)
  return {
    version: 1,
    id: 'a'.repeat(64),
    key: 'sha256:' + 'b'.repeat(64),
    url: 'http://cdn.example/repos/x/y/' + 'b'.repeat(64),
    length: 3 * MiB + 10,
    pieceSize: MiB,
    headers: {},
    bitmap: bitmap.toBase64(),
    digests: [0, 1, 2, 3].map(index => held.includes(index) ? 'c'.repeat(64) : null),
    createdAt: 0,
    lastAccessAt: 0
  }
}

describe('where a task\'s pieces came from', () => {
  it('pieces on disk at load are local; later ones keep their source, counted once', () => {
    const task = new Task(meta([3]))
    assert.equal(task.pieceMap(), '...L')
    assert.equal(task.bytesBySource.local, 10)
    task.markReceived(1, 1000)
    task.markPieceComplete(0, 'd'.repeat(64), 'origin')
    task.markPieceComplete(2, 'e'.repeat(64), 'peer')
    // A duplicate (endgame) completion neither changes the source nor counts twice.
    task.markPieceComplete(2, 'e'.repeat(64), 'origin')
    assert.equal(task.pieceMap(), 'O~PL')
    assert.equal(task.sourceOf(2), 'peer')
    assert.deepEqual(task.bytesBySource, { origin: MiB, peers: MiB, local: 10 })
    assert.equal(task.heldBytes, 2 * MiB + 10)
    assert.equal(task.receivedBytes, 2 * MiB + 10 + 1000)
  })
})

describe('what a reader may read of a piece', () => {
  it('stays whole once the piece is held, whatever a slower duplicate fetch reports after', () => {
    const task = new Task(meta([]))
    task.markReceived(1, 4096)
    assert.equal(task.readableAt(MiB), 4096)
    // A peer lands piece 1 while the origin is still fetching it; the origin then reports its
    // own, smaller progress on the same piece.
    task.markPieceComplete(1, 'd'.repeat(64), 'peer')
    task.markReceived(1, 8192)
    assert.equal(task.readableAt(MiB), MiB)
    assert.equal(task.readableAt(MiB + 10_000), MiB - 10_000)
  })
})

describe('a task\'s display name', () => {
  it('prefers the origin\'s file name, RFC 6266 filename* first, else the URL\'s last segment', () => {
    const url = 'http://cdn.example/repos/x/y/abc'
    assert.equal(displayName({ url, headers: { 'content-disposition': 'attachment; filename*=UTF-8\'\'mod%C3%A8le.bin; filename="model.bin"' } }), 'modèle.bin')
    assert.equal(displayName({ url, headers: { 'content-disposition': 'attachment; filename="model.safetensors";' } }), 'model.safetensors')
    assert.equal(displayName({ url, headers: {} }), 'abc')
  })
})
