import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { PieceSink } from '../../src/task/piece-sink.js'
import { PieceBlockHasher } from '../../src/storage/block-hasher.js'
import { BlockLayout } from '../../src/storage/blocks.js'
import { PiecePlan } from '../../src/task/piece-plan.js'
import { UpstreamMismatchError } from '../../src/errors.js'

const MiB = 1024 * 1024
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

/** A file in memory whose writes can be held back (a slow disk). */
function memoryFile (length: number): { data: Buffer, writes: number, hold: () => () => void, write: (chunks: Buffer[], position: number) => Promise<void> } {
  let gate: Promise<void> | undefined
  const file = {
    data: Buffer.alloc(length),
    writes: 0,
    hold: () => {
      let open = (): void => {}
      gate = new Promise<void>(resolve => { open = resolve })
      return () => { gate = undefined; open() }
    },
    write: async (chunks: Buffer[], position: number) => {
      if (gate !== undefined) await gate
      file.writes++
      for (const chunk of chunks) {
        chunk.copy(file.data, position)
        position += chunk.length
      }
    }
  }
  return file
}

function sinkFor (content: Buffer, pieceSize: number, piece: number, file: ReturnType<typeof memoryFile>): { sink: PieceSink, blocks: PieceBlockHasher, written: number[], controls: { resumed: number, aborted?: Error } } {
  const plan = new PiecePlan(content.length, pieceSize)
  const layout = new BlockLayout(plan)
  const blocks = new PieceBlockHasher(layout, piece)
  const written: number[] = []
  const controls: { resumed: number, aborted?: Error } = { resumed: 0 }
  const sink = new PieceSink({ file, layout, piece, start: plan.start(piece), size: plan.size(piece), blocks, signal: new AbortController().signal, onWritten: (bytes) => { written.push(bytes) } })
  sink.started({ resume: () => { controls.resumed++ }, abort: (error) => { controls.aborted = error } })
  return { sink, blocks, written, controls }
}

describe('piece sink (origin bytes into blocks)', () => {
  it('writes and hashes a piece that arrives in odd chunks, cut and resumed mid-block', async () => {
    const content = randomBytes(6 * MiB + 12345)
    const pieceSize = 4 * MiB
    const piece = 1
    const bytes = content.subarray(pieceSize, content.length)
    const file = memoryFile(content.length)
    const { sink, blocks, written } = sinkFor(content, pieceSize, piece, file)
    const cutAt = MiB + 777
    for (let offset = 0; offset < cutAt;) {
      const take = Math.min(65_531, cutAt - offset)
      sink.data(bytes.subarray(offset, offset + take))
      offset += take
    }
    // A cut: what arrived of the block in progress goes to disk, and the next range continues it.
    sink.flushPartial()
    await sink.settled()
    assert.equal(sink.received, cutAt)
    assert.equal(written.at(-1), cutAt)
    assert.ok(file.data.subarray(pieceSize, pieceSize + cutAt).equals(bytes.subarray(0, cutAt)))
    sink.retry()
    for (let offset = cutAt; offset < bytes.length;) {
      const take = Math.min(100_003, bytes.length - offset)
      sink.data(bytes.subarray(offset, offset + take))
      offset += take
    }
    await sink.settled()
    assert.equal(written.at(-1), bytes.length)
    assert.ok(file.data.subarray(pieceSize).equals(bytes), 'the piece is on disk byte-exact')
    const digests = await blocks.digest()
    assert.equal(digests.piece, sha256(bytes))
    assert.deepEqual(digests.blocks.map(digest => digest.toString('hex')), [sha256(bytes.subarray(0, MiB)), sha256(bytes.subarray(MiB, 2 * MiB)), sha256(bytes.subarray(2 * MiB))])
  })

  it('refuses bytes past the end of the piece and aborts the response', async () => {
    const content = randomBytes(2 * MiB)
    const file = memoryFile(content.length)
    const { sink, blocks, controls } = sinkFor(content, 4 * MiB, 0, file)
    assert.equal(sink.data(content.subarray(0, MiB + 5)), true)
    assert.equal(sink.data(Buffer.concat([content.subarray(MiB + 5), Buffer.alloc(1)])), false)
    assert.ok(sink.failure instanceof UpstreamMismatchError)
    assert.equal(controls.aborted, sink.failure)
    await assert.rejects(sink.settled(), UpstreamMismatchError)
    blocks.drop()
  })

  it('pauses the response while blocks wait for a slow disk, and resumes it once they are written', async () => {
    const content = randomBytes(8 * MiB)
    const file = memoryFile(content.length)
    const { sink, blocks, controls } = sinkFor(content, 8 * MiB, 0, file)
    const open = file.hold()
    const flowing: boolean[] = []
    for (let block = 0; block < 3; block++) flowing.push(sink.data(content.subarray(block * MiB, (block + 1) * MiB)))
    assert.deepEqual(flowing, [true, false, false], 'two blocks queued pause the response')
    assert.equal(file.writes, 0)
    open()
    await sink.settled()
    assert.ok(controls.resumed > 0, 'the response was resumed')
    for (let block = 3; block < 8; block++) {
      assert.equal(sink.data(content.subarray(block * MiB, (block + 1) * MiB)), true, 'a disk that keeps up never pauses it')
      await sink.settled()
    }
    assert.ok(file.data.equals(content))
    assert.equal((await blocks.digest()).piece, sha256(content))
  })
})
