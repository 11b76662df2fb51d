/**
 * bench-hashing — where the per-byte hashing of issue 11 runs, and what it costs the event loop.
 *
 * Hashes the same in-memory bytes (no I/O) with each strategy the byte paths use and reports the
 * wall time, the throughput and the event loop's utilisation (ELU: 1.0 = the loop did nothing
 * else). Rows: a sha256 per 1 MiB block on the event loop vs on the libuv pool
 * (crypto.subtle.digest); one running sha256 (a piece, the whole file) on the event loop vs on
 * a hashing thread (storage/hash-pool.ts); and the cold path's three hashes of every byte
 * (whole-file + piece + block) as 0.1.0 would run them on the loop vs as this release runs them.
 * What was decided from it (load average 21, 2 cores, relative figures only): WebCrypto's
 * digest on the libuv pool kept the loop ~0.98 busy (it copies and validates on the loop), while
 * moving a block to a hashing thread and back cost ~0.10; so block hashes and running hashes
 * both go to hashing threads (storage/hash-pool.ts) and the loop only moves buffers.
 *
 * Two more rows follow a plain data connection's receive path (reads into 4 MiB slabs, blocks
 * of 4 MiB handed on as views, hashed by PieceBlockHasher): fresh slabs per 4 MiB, whose views
 * the hasher copies for the thread (what 0.2 did), against pooled slabs of shared memory
 * hashed in place and released once hashed (slab-pool.ts). Run it as a node runs
 * (GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072, see process-tuning.ts): with that
 * threshold each fresh slab and each copy is a mmap. The `cpu s/GiB` column counts every thread.
 *
 *   node dist/scripts/bench-hashing.js [--mib 256] [--out results/bench-hashing.json]
 */
import { createHash, webcrypto } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { performance } from 'node:perf_hooks'
import { SlabReads } from '../src/p2p/data-connection/read-buffers.js'
import { PieceBlockHasher } from '../src/storage/block-hasher.js'
import { BlockLayout } from '../src/storage/blocks.js'
import { hashBlock, hashStream } from '../src/storage/hash-pool.js'
import { PiecePlan } from '../src/task/piece-plan.js'
import { scriptArgs } from './lib/args.js'

const values = scriptArgs({
  name: 'bench-hashing',
  summary: 'Where block hashing should run: sha256 of 1 MiB blocks on the event loop, on the libuv pool\n(crypto.subtle) and on worker threads (hash-pool.ts), with the event loop\'s busy share of each.',
  options: {
    mib: { type: 'string', default: '256', valueName: 'N', description: 'MiB of 1 MiB blocks to hash' },
    out: { type: 'string', default: 'results/bench-hashing.json', valueName: 'FILE', description: 'where the JSON results go' }
  }
})

const MiB = 1024 * 1024
const blocks: Buffer[] = Array.from({ length: Number(values.mib) }, (_, index) => Buffer.alloc(MiB, index & 0xff))

async function blocksOnLoop (): Promise<void> {
  for (const block of blocks) createHash('sha256').update(block).digest()
}

async function blocksOnPool (): Promise<void> {
  const inFlight: Array<Promise<ArrayBuffer>> = []
  for (const block of blocks) {
    inFlight.push(webcrypto.subtle.digest('SHA-256', block))
    if (inFlight.length >= 4) await inFlight.shift()
  }
  await Promise.all(inFlight)
}

async function blocksOnThreads (): Promise<void> {
  const inFlight: Array<Promise<unknown>> = []
  for (let index = 0; index < blocks.length; index++) {
    // Moved to the thread and back: the bench keeps the returned buffer, as the hit path does.
    inFlight.push(hashBlock(blocks[index]!).then(({ data }) => { blocks[index] = data }))
    if (inFlight.length >= 4) await inFlight.shift()
  }
  await Promise.all(inFlight)
}

async function streamOnLoop (): Promise<void> {
  const hash = createHash('sha256')
  for (const block of blocks) hash.update(block)
  hash.digest()
}

async function streamOnThread (): Promise<void> {
  const stream = hashStream()
  for (const block of blocks) await stream.update(block)
  await stream.digest()
}

/** 0.1.0's cold path would hash every byte twice on the loop (piece, whole file); with blocks, three times. */
async function coldOnLoop (): Promise<void> {
  const whole = createHash('sha256')
  const piece = createHash('sha256')
  for (const block of blocks) {
    whole.update(block)
    piece.update(block)
    createHash('sha256').update(block).digest()
  }
  whole.digest()
  piece.digest()
}

/**
 * This release: the download gathers each block into a buffer of its own (one copy, as here),
 * which feeds the block's sha256 and the piece's running sha256 in one trip to a hashing
 * thread (PieceBlockHasher); the whole-file check copies what it reads to its own stream.
 */
async function coldOffLoop (): Promise<void> {
  const whole = hashStream()
  const piece = hashStream()
  const inFlight: Array<Promise<unknown>> = []
  for (const block of blocks) {
    await whole.update(block)
    inFlight.push(piece.block(Buffer.from(new Uint8Array(block).buffer)))
    if (inFlight.length >= 4) await inFlight.shift()
  }
  await Promise.all([...inFlight, whole.digest(), piece.digest()])
}

/** Blocks and pieces as a download asks a peer for them (maxBlockBytes, 16 MiB pieces). */
const receiveBlockBytes = 4 * MiB
const receivePieceBytes = 16 * MiB

/**
 * A plain receive: each 4 MiB block arrives in reads of 1 MiB (copied into the read memory, as
 * the kernel does) and is hashed as the views it landed in. `pooled`: slabs from SlabReads,
 * each block released once hashed; else a fresh slab per 4 MiB, dropped (the hasher copies).
 * `copied`: each view copied into memory of its own that moves to the thread (pooled memory
 * that is not shared could go no other way).
 */
async function plainReceive (pooled: boolean, copied = !pooled): Promise<void> {
  const source = blocks[0]!
  const reads = pooled ? new SlabReads() : undefined
  let fresh = Buffer.allocUnsafe(0)
  let used = 0
  const readInto = (bytes: Buffer): Buffer => {
    if (reads !== undefined) {
      const target = reads.next()
      bytes.copy(target)
      return reads.landed(bytes.length, target)
    }
    if (fresh.length - used < bytes.length) {
      fresh = Buffer.allocUnsafe(4 * MiB)
      used = 0
    }
    bytes.copy(fresh, used)
    used += bytes.length
    return fresh.subarray(used - bytes.length, used)
  }
  const total = blocks.length * MiB
  const layout = new BlockLayout(new PiecePlan(total, receivePieceBytes))
  const released: Array<Promise<void>> = []
  for (let piece = 0; piece * receivePieceBytes < total; piece++) {
    const hasher = new PieceBlockHasher(layout, piece, { piece: false })
    const pieceBytes = Math.min(receivePieceBytes, total - piece * receivePieceBytes)
    for (let offset = 0; offset < pieceBytes; offset += receiveBlockBytes) {
      const views: Buffer[] = []
      for (let at = 0; at < Math.min(receiveBlockBytes, pieceBytes - offset); at += MiB) views.push(readInto(source))
      const holds = views.map(view => reads?.hold(view))
      for (const view of views) await (copied && pooled ? hasher.update(Buffer.from(new Uint8Array(view).buffer), true) : hasher.update(view))
      if (reads !== undefined) released.push(hasher.hashed().then(() => { for (const slab of holds) if (slab !== undefined) reads.release(slab) }))
    }
    await hasher.digest()
  }
  await Promise.all(released)
}

interface Row { strategy: string, seconds: number, MBps: number, elu: number, cpuSecondsPerGiB: number }

async function measure (strategy: string, run: () => Promise<void>): Promise<Row> {
  await run() // warm-up (threads started, code compiled)
  const elu = performance.eventLoopUtilization()
  const cpu = process.cpuUsage()
  const started = performance.now()
  await run()
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  return { strategy, seconds, MBps: blocks.length * MiB / 1e6 / seconds, elu: performance.eventLoopUtilization(elu).utilization, cpuSecondsPerGiB: (used.user + used.system) / 1e6 / (blocks.length / 1024) }
}

const rows: Row[] = []
for (const [name, run] of [
  ['block sha256 on the event loop', blocksOnLoop],
  ['block sha256 on the libuv pool', blocksOnPool],
  ['block sha256 on hashing threads (moved, no copy)', blocksOnThreads],
  ['running sha256 on the event loop', streamOnLoop],
  ['running sha256 on a hashing thread', streamOnThread],
  ['cold path, 3 hashes, on the event loop', coldOnLoop],
  ['cold path, 3 hashes, off the event loop', coldOffLoop],
  ['plain receive: fresh 4 MiB slabs, views copied to the hashing thread', async () => { await plainReceive(false) }],
  ['plain receive: pooled slabs, views copied to the hashing thread', async () => { await plainReceive(true, true) }],
  ['plain receive: pooled shared slabs, views hashed in place', async () => { await plainReceive(true) }]
] as const) rows.push(await measure(name, run))

console.log(`${blocks.length} MiB, load average ${(await import('node:os')).loadavg()[0]?.toFixed(2)}, GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? ''}`)
console.log('| strategy | seconds | MB/s | event-loop utilisation | cpu s/GiB |\n|---|---|---|---|---|')
for (const row of rows) console.log(`| ${row.strategy} | ${row.seconds.toFixed(3)} | ${row.MBps.toFixed(0)} | ${row.elu.toFixed(2)} | ${row.cpuSecondsPerGiB.toFixed(2)} |`)
await mkdir(dirname(values.out), { recursive: true })
await writeFile(values.out, JSON.stringify({ date: new Date().toISOString(), mib: blocks.length, rows }, null, 2) + '\n')
