import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { IntegrityError } from '../../src/errors.js'
import { heldBackFrom, holdBackBytes } from '../../src/proxy/hold-back.js'
import { Bitmap } from '../../src/storage/bitmap.js'
import type { TaskMeta } from '../../src/storage/task-meta.js'
import { Task } from '../../src/task/task.js'
import { checkWholeFile } from '../../src/task/whole-file-check.js'

const KiB = 1024

describe('hold-back: which bytes of a response wait for the whole-file check', () => {
  it('holds the last 64 KiB of a whole-file response', () => {
    assert.equal(heldBackFrom({ length: 1000 * KiB, start: 0, end: 1000 * KiB - 1, awaitingCheck: true }), 1000 * KiB - holdBackBytes)
  })

  it('holds all of a response shorter than the hold, and of a suffix range', () => {
    assert.equal(heldBackFrom({ length: 10, start: 0, end: 9, awaitingCheck: true }), 0)
    assert.equal(heldBackFrom({ length: 1000 * KiB, start: 1000 * KiB - 1, end: 1000 * KiB - 1, awaitingCheck: true }), 1000 * KiB - 1)
  })

  it('holds nothing when there is nothing to check, or the range stops short of the end', () => {
    assert.equal(heldBackFrom({ length: 1000 * KiB, start: 0, end: 1000 * KiB - 1, awaitingCheck: false }), 1000 * KiB)
    assert.equal(heldBackFrom({ length: 1000 * KiB, start: 0, end: 99, awaitingCheck: true }), 100)
  })

  it('holds nothing in an empty response', () => {
    assert.equal(heldBackFrom({ length: 0, start: 0, end: -1, awaitingCheck: true }), 0)
  })
})

/** The task's data, as the whole-file check reads it (TaskFile.read). */
interface Over { task: Task, file: { read: (buffer: Buffer, position: number) => Promise<number> }, cleanup: () => Promise<void> }

async function taskOver (content: Buffer, pieceSize: number, sha256: string): Promise<Over> {
  const pieceCount = Math.max(1, Math.ceil(content.length / pieceSize))
  const meta: TaskMeta = {
    version: 1,
    id: 'a'.repeat(64),
    key: `sha256:${sha256}`,
    url: 'http://origin.invalid/x',
    length: content.length,
    pieceSize,
    headers: {},
    bitmap: new Bitmap(pieceCount).toBase64(),
    digests: new Array<string | null>(pieceCount).fill(null),
    sha256,
    createdAt: 0,
    lastAccessAt: 0
  }
  const file = { read: async (buffer: Buffer, position: number) => content.copy(buffer, 0, position, Math.min(content.length, position + buffer.length)) }
  return { task: new Task(meta), file, cleanup: async () => {} }
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

describe('whole-file check and Task.whenVerified', () => {
  const content = Buffer.from(Array.from({ length: 10_000 }, (_, index) => (index * 7) & 0xff))
  const pieceSize = 4096

  it('follows pieces landing out of order and verifies the file once all are in', async () => {
    const { task, file, cleanup } = await taskOver(content, pieceSize, sha256(content))
    try {
      task.startDownloading()
      const checking = checkWholeFile(task, file, AbortSignal.timeout(5000))
      const verified = task.whenVerified(AbortSignal.timeout(5000))
      for (const index of [2, 0, 1]) {
        task.markPieceComplete(index, sha256(content.subarray(index * pieceSize, (index + 1) * pieceSize)), 'origin')
      }
      assert.deepEqual(await checking, { ok: true })
      assert.equal(task.awaitingWholeFileCheck, true, 'verified only when the caller says so')
      task.markVerified()
      await verified
    } finally {
      await cleanup()
    }
  })

  it('reports a file that does not hash to its sha256, and readers fail once it is quarantined', async () => {
    const { task, file, cleanup } = await taskOver(content, pieceSize, 'f'.repeat(64))
    try {
      task.startDownloading()
      const verified = task.whenVerified(AbortSignal.timeout(5000))
      for (let index = 0; index < 3; index++) task.markPieceComplete(index, sha256(content.subarray(index * pieceSize, (index + 1) * pieceSize)), 'peer', 'peer-a')
      const result = await checkWholeFile(task, file, AbortSignal.timeout(5000))
      assert.equal(result.ok, false)
      assert.deepEqual([...task.peerSuppliers()], ['peer-a'])
      task.quarantine(result.ok ? new IntegrityError('unreachable') : result.error)
      await assert.rejects(verified, IntegrityError)
    } finally {
      await cleanup()
    }
  })

  it('fails when a piece changed on disk after it landed', async () => {
    const changed = Buffer.from(content)
    changed[5000] = (changed[5000] ?? 0) ^ 1
    const { task, file, cleanup } = await taskOver(changed, pieceSize, sha256(content))
    try {
      task.startDownloading()
      for (let index = 0; index < 3; index++) task.markPieceComplete(index, sha256(content.subarray(index * pieceSize, (index + 1) * pieceSize)), 'origin')
      const result = await checkWholeFile(task, file, AbortSignal.timeout(5000))
      assert.equal(result.ok, false)
    } finally {
      await cleanup()
    }
  })

  it('stops with the download when it pauses', async () => {
    const { task, file, cleanup } = await taskOver(content, pieceSize, sha256(content))
    try {
      task.startDownloading()
      const checking = checkWholeFile(task, file, AbortSignal.timeout(5000))
      task.pause(new Error('origin gone'))
      await assert.rejects(checking, /origin gone/)
    } finally {
      await cleanup()
    }
  })
})
