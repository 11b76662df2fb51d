import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AbortedError, BlockMismatchError, StorageError } from '../../src/errors.js'
import { silentLogger } from '../../src/logging/logger.js'
import { Bitmap } from '../../src/storage/bitmap.js'
import { BlockHashes } from '../../src/storage/block-hashes.js'
import { BlockLayout, merkleRoot } from '../../src/storage/blocks.js'
import { FsTaskStore } from '../../src/storage/fs-task-store.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import type { TaskStore } from '../../src/storage/task-files.js'
import type { TaskMeta } from '../../src/storage/task-meta.js'
import { PiecePlan } from '../../src/task/piece-plan.js'
import { Task } from '../../src/task/task.js'
import { flipByte } from '../helpers/disk-faults.js'

/** One suite, every store: what the task manager, the proxy and the peer service rely on. */
interface StoreUnderTest {
  store: TaskStore
  /** Flips one byte of a task's stored data (bit rot). */
  corrupt: (id: string, offset: number) => Promise<void>
  cleanup: () => Promise<void>
}

const implementations: Record<string, () => Promise<StoreUnderTest>> = {
  filesystem: async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'damselfly-store-'))
    const store = new FsTaskStore({ logger: silentLogger }, { dataDir })
    return {
      store,
      corrupt: async (id, offset) => { await flipByte(join(dataDir, 'tasks', id, 'data'), offset) },
      cleanup: async () => { await rm(dataDir, { recursive: true, force: true }) }
    }
  },
  memory: async () => {
    const store = new MemoryTaskStore()
    return { store, corrupt: async (id, offset) => { store.corrupt(id, offset) }, cleanup: async () => {} }
  }
}

const KiB = 1024
const pieceSize = 64 * KiB
const blockSize = 16 * KiB
/** Four pieces, the last one short and ending inside a block. */
const content = randomBytes(3 * pieceSize + 20 * KiB + 5)
const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

function newMeta (id = 'b'.repeat(64)): TaskMeta {
  const plan = new PiecePlan(content.length, pieceSize)
  return {
    version: 1,
    id,
    key: `sha256:${sha256(content).toString('hex')}`,
    url: 'http://origin.invalid/f',
    length: content.length,
    pieceSize,
    blockSize,
    headers: { 'content-type': 'application/octet-stream' },
    bitmap: new Bitmap(plan.pieceCount).toBase64(),
    digests: new Array<string | null>(plan.pieceCount).fill(null),
    createdAt: 1,
    lastAccessAt: 1
  }
}

/** Writes the whole content as a download would: bytes, block hashes, sync, then the metadata. */
async function fill (store: TaskStore, meta: TaskMeta): Promise<Task> {
  const task = new Task(meta)
  const file = await store.create(meta)
  try {
    for (let piece = 0; piece < task.plan.pieceCount; piece++) {
      const start = task.plan.start(piece)
      const bytes = content.subarray(start, start + task.plan.size(piece))
      // Two writes per piece, as chunks arrive.
      await file.write([bytes.subarray(0, 1000), bytes.subarray(1000)], start)
      const layout = task.blocks.layout
      const first = piece * layout.blocksPerPiece
      const hashes = Array.from({ length: layout.blocksIn(piece) }, (_, index) => sha256(content.subarray(layout.start(first + index), layout.start(first + index) + layout.size(first + index))))
      task.markPieceComplete(piece, sha256(bytes).toString('hex'), 'origin', undefined, hashes)
    }
    for (const { firstBlock, bytes } of task.blocks.takeDirty()) await file.writeBlockHashes(firstBlock, bytes)
    await file.sync()
    await store.writeMeta(task.toMeta())
  } finally {
    await file.close()
  }
  return task
}

async function collect (source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of source) parts.push(part)
  return Buffer.concat(parts)
}

for (const [name, make] of Object.entries(implementations)) {
  describe(`task store conformance: ${name}`, () => {
    async function withStore (body: (subject: StoreUnderTest) => Promise<void>): Promise<void> {
      const subject = await make()
      try {
        await subject.store.init()
        await body(subject)
      } finally {
        await subject.cleanup()
      }
    }

    it('creates a task of the right length that reads back as written, and lists it', async () => {
      await withStore(async ({ store }) => {
        const meta = newMeta()
        const file = await store.create(meta)
        const zeros = Buffer.alloc(100)
        assert.equal(await file.read(zeros, 0), 100)
        assert.ok(zeros.every(byte => byte === 0))
        await file.write([content.subarray(0, 10), content.subarray(10, 30)], 5000)
        const back = Buffer.alloc(30)
        assert.equal(await file.read(back, 5000), 30)
        assert.deepEqual(back, content.subarray(0, 30))
        await file.close()
        const listed = await store.list()
        assert.deepEqual(listed.map(stored => stored.meta.id), [meta.id])
        assert.equal(listed[0]!.meta.length, content.length)
      })
    })

    it('keeps block hashes across a reload: a new Task adopts the ones that match the roots', async () => {
      await withStore(async ({ store }) => {
        const written = await fill(store, newMeta())
        const [stored] = await store.list()
        assert.ok(stored?.blockHashes !== undefined)
        const loaded = new Task(stored.meta, stored.blockHashes)
        assert.equal(loaded.bitmap.complete, true)
        assert.deepEqual(loaded.unverifiedPieces(), [])
        for (let piece = 0; piece < loaded.plan.pieceCount; piece++) assert.equal(loaded.blocks.rootOf(piece), written.blocks.rootOf(piece))
        // Hashes that disagree with a root are not trusted.
        const tampered = Uint8Array.from(stored.blockHashes)
        tampered[0] = (tampered[0] ?? 0) ^ 1
        assert.deepEqual(new Task(stored.meta, tampered).unverifiedPieces(), [0])
      })
    })

    it('reads any range verified, byte-exact, across blocks and pieces', async () => {
      await withStore(async ({ store }) => {
        const task = await fill(store, newMeta())
        const file = await store.open(task.id, 'read')
        try {
          for (const [start, end] of [[0, content.length - 1], [5, 5], [blockSize - 3, blockSize + 3], [pieceSize - 1, 2 * pieceSize + 7], [content.length - 9, content.length - 1]] as const) {
            const got = await collect(file.readVerified(task.blocks, start, end, { signal: AbortSignal.timeout(5000) }))
            assert.deepEqual(got, content.subarray(start, end + 1), `range ${start}-${end}`)
          }
          assert.equal((await collect(file.readVerified(task.blocks, 10, 9, { signal: AbortSignal.timeout(5000) }))).length, 0)
        } finally {
          await file.close()
        }
      })
    })

    it('stops at a rotten block with the piece to refetch, never yielding its bytes', async () => {
      await withStore(async ({ store, corrupt }) => {
        const task = await fill(store, newMeta())
        const rotten = pieceSize + 2 * blockSize + 77
        await corrupt(task.id, rotten)
        const file = await store.open(task.id, 'read')
        try {
          const parts: Buffer[] = []
          await assert.rejects(async () => {
            for await (const part of file.readVerified(task.blocks, 0, content.length - 1, { signal: AbortSignal.timeout(5000) })) parts.push(part)
          }, (error: unknown) => error instanceof BlockMismatchError && error.piece === 1)
          const sent = Buffer.concat(parts)
          assert.equal(sent.length, pieceSize + 2 * blockSize, 'everything before the rotten block, nothing of it')
          assert.deepEqual(sent, content.subarray(0, sent.length))
        } finally {
          await file.close()
        }
      })
    })

    it('asks verifyPiece for a block without a known hash, and fails without it', async () => {
      await withStore(async ({ store }) => {
        const task = await fill(store, newMeta())
        const bare = new BlockHashes(new BlockLayout(task.plan, blockSize))
        const file = await store.open(task.id, 'read')
        try {
          await assert.rejects(collect(file.readVerified(bare, 0, 10, { signal: AbortSignal.timeout(5000) })), BlockMismatchError)
          const asked: number[] = []
          const got = await collect(file.readVerified(bare, pieceSize, pieceSize + 10, {
            signal: AbortSignal.timeout(5000),
            verifyPiece: async (piece) => {
              asked.push(piece)
              bare.setPiece(piece, task.blocks.pieceHashes(piece)!)
            }
          }))
          assert.deepEqual(asked, [1])
          assert.deepEqual(got, content.subarray(pieceSize, pieceSize + 11))
        } finally {
          await file.close()
        }
      })
    })

    it('recycles a buffer only once every reader given it is done: bytes another reader kept stay intact', async () => {
      await withStore(async ({ store }) => {
        const task = await fill(store, newMeta())
        const file = await store.open(task.id, 'read')
        try {
          const signal = AbortSignal.timeout(5000)
          // A keeps every buffer it is given (like a peer's reply); B and C recycle, copying each
          // part before asking for the next (like the proxy's writes). A and B run together, so
          // they share blocks; C then reads into whatever was recycled.
          const kept: Buffer[] = []
          const keep = async (): Promise<void> => {
            for await (const part of file.readVerified(task.blocks, 0, content.length - 1, { signal })) kept.push(part)
          }
          const copyAll = async (): Promise<Buffer> => {
            const copies: Buffer[] = []
            for await (const part of file.readVerified(task.blocks, 0, content.length - 1, { signal, recycle: true })) copies.push(Buffer.from(part))
            return Buffer.concat(copies)
          }
          const [, second] = await Promise.all([keep(), copyAll()])
          assert.deepEqual(second, content)
          for (let run = 0; run < 3; run++) assert.deepEqual(await copyAll(), content)
          assert.deepEqual(Buffer.concat(kept), content, 'a kept buffer was read into again')
        } finally {
          await file.close()
        }
      })
    })

    it('stops when its signal is aborted', async () => {
      await withStore(async ({ store }) => {
        const task = await fill(store, newMeta())
        const file = await store.open(task.id, 'read')
        try {
          const controller = new AbortController()
          controller.abort()
          await assert.rejects(collect(file.readVerified(task.blocks, 0, 100, { signal: controller.signal })), AbortedError)
        } finally {
          await file.close()
        }
      })
    })

    it('refuses writes through a file opened for reading', async () => {
      await withStore(async ({ store }) => {
        const task = await fill(store, newMeta())
        const file = await store.open(task.id, 'read')
        try {
          await assert.rejects(file.writeBlockHashes(0, new Uint8Array(32)), StorageError)
        } finally {
          await file.close()
        }
      })
    })

    it('quarantine and remove take a task out of reach', async () => {
      await withStore(async ({ store }) => {
        await fill(store, newMeta('c'.repeat(64)))
        await fill(store, newMeta('d'.repeat(64)))
        await store.quarantine('c'.repeat(64))
        await store.remove('d'.repeat(64))
        assert.deepEqual(await store.list(), [])
        await assert.rejects(store.open('c'.repeat(64), 'read'), StorageError)
        await assert.rejects(store.open('d'.repeat(64), 'read'), StorageError)
      })
    })

    it('a piece root is the Merkle root of its block hashes', () => {
      const leaves = [sha256(Buffer.from('a')), sha256(Buffer.from('b')), sha256(Buffer.from('c'))]
      const pair = (left: Buffer, right: Buffer): Buffer => createHash('sha256').update(left).update(right).digest()
      assert.deepEqual(merkleRoot(leaves), pair(pair(leaves[0]!, leaves[1]!), pair(leaves[2]!, Buffer.alloc(32))))
      assert.deepEqual(merkleRoot([leaves[0]!]), leaves[0])
    })
  })
}
