/**
 * bench-budget — the CPU each stage of the node-to-node path costs per GiB on this machine, and
 * the throughput ceiling the stages alone allow.
 *
 * A peer filling a task from a seed (bench-p2p's node rows) does, for every byte: on the seed, a
 * page-cache read, a sha256 (blocks are verified on read), a seal (encrypted) and a TCP send; on
 * the peer, a TCP receive, an open, a sha256 and a page-cache write. Each stage is run here on
 * its own, in this process, with the node's sizes (1 MiB blocks, records sealed in
 * records.ts's slices, 4 reads or writes in flight as the libuv pool runs them), and timed by
 * the CPU it takes (every thread counted). With both processes on one machine of C cores the
 * path cannot beat C ÷ (sender + receiver CPU per GiB) — no event loop, copy or message counted.
 * With `--p2p FILE` (bench-p2p's JSON), the node rows' measured CPU per GiB is set beside the
 * budget: the difference is the node's own overhead.
 *
 *   node dist/scripts/bench-budget.js [--mib 1024] [--runs 3] [--p2p results/bench-p2p.json]
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, type CipherGCMTypes } from 'node:crypto'
import { open, readFile, rm } from 'node:fs/promises'
import { createServer, connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cipherSliceBytes, defaultCipher, maxRecordBytes } from '../src/p2p/data-connection/records.js'
import { scriptArgs } from './lib/args.js'
import { machineInfo } from './lib/machine.js'
import { printTable, writeJson } from './lib/report.js'
import { median, round } from './lib/stats.js'

const values = scriptArgs({
  name: 'bench-budget',
  summary: 'The CPU per GiB of each stage of the node-to-node path (read, sha256, seal, TCP, open, write) and\nthe throughput ceiling they allow on this machine, beside bench-p2p\'s measured node rows.',
  options: {
    mib: { type: 'string', default: '1024', valueName: 'N', description: 'MiB moved through each stage per run' },
    runs: { type: 'string', default: '3', valueName: 'N', description: 'runs per stage; the median is reported' },
    p2p: { type: 'string', valueName: 'FILE', description: 'a bench-p2p JSON whose node rows are compared with the budget' },
    out: { type: 'string', default: 'results/bench-budget.json', valueName: 'FILE', description: 'where the JSON results go' }
  }
})

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const blockBytes = MiB
const inFlight = 4
const mib = Number(values.mib)
const runs = Number(values.runs)
if (!(mib >= 16) || !(runs >= 1)) throw new Error('--mib must be at least 16 and --runs at least 1')
const bytes = mib * MiB
const block = randomBytes(blockBytes)

/** CPU seconds per GiB `stage` used (all threads), its median over the runs; `prepare` is not counted. */
async function cpuPerGiB (stage: () => Promise<void>, prepare?: () => Promise<void>): Promise<number> {
  const samples: number[] = []
  for (let run = 0; run < runs; run++) {
    await prepare?.()
    const before = process.cpuUsage()
    await stage()
    const used = process.cpuUsage(before)
    samples.push((used.user + used.system) / 1e6 / (bytes / GiB))
  }
  return median(samples)
}

async function sha256Blocks (): Promise<void> {
  for (let done = 0; done < bytes; done += blockBytes) createHash('sha256').update(block).digest()
}

const key = randomBytes(32)
const iv = randomBytes(12)

/** One record as records.ts seals it: update() in cipherSliceBytes slices, then the tag. */
function sealRecord (record: Buffer): { body: Buffer[], tag: Buffer } {
  const sealer = createCipheriv(defaultCipher as CipherGCMTypes, key, iv, { authTagLength: 16 })
  const body: Buffer[] = []
  for (let offset = 0; offset < record.length; offset += cipherSliceBytes) body.push(sealer.update(record.subarray(offset, offset + cipherSliceBytes)))
  sealer.final()
  return { body, tag: sealer.getAuthTag() }
}

async function seal (): Promise<void> {
  for (let done = 0; done < bytes; done += maxRecordBytes) sealRecord(block.subarray(0, maxRecordBytes))
}

async function openRecords (): Promise<void> {
  const { body, tag } = sealRecord(block.subarray(0, maxRecordBytes))
  for (let done = 0; done < bytes; done += maxRecordBytes) {
    const opener = createDecipheriv(defaultCipher as CipherGCMTypes, key, iv, { authTagLength: 16 })
    for (const slice of body) opener.update(slice)
    opener.setAuthTag(tag)
    opener.final()
  }
}

const scratch = join(tmpdir(), `damselfly-bench-budget-${process.pid}`)

/** Writes `bytes` into a fresh file in 1 MiB blocks, `inFlight` at a time (the libuv pool). */
async function pageCacheWrite (): Promise<void> {
  await rm(scratch, { force: true })
  const file = await open(scratch, 'w')
  try {
    const writes: Array<Promise<unknown>> = []
    for (let position = 0; position < bytes; position += blockBytes) {
      writes.push(file.write(block, 0, blockBytes, position))
      if (writes.length >= inFlight) await writes.shift()
    }
    await Promise.all(writes)
  } finally {
    await file.close()
  }
}

/** Reads the file back (in the page cache) into a fresh buffer per block, as the verified reader does. */
async function pageCacheRead (): Promise<void> {
  const file = await open(scratch, 'r')
  try {
    const reads: Array<Promise<unknown>> = []
    for (let position = 0; position < bytes; position += blockBytes) {
      reads.push(file.read(Buffer.allocUnsafeSlow(blockBytes), 0, blockBytes, position))
      if (reads.length >= inFlight) await reads.shift()
    }
    await Promise.all(reads)
  } finally {
    await file.close()
  }
}

/**
 * Moves `bytes` over loopback TCP, both ends in this process: the sender writes 1 MiB buffers,
 * the receiver reads with `onread` into one 4 MiB buffer (as the data connection's downloader does).
 */
async function loopbackTcp (): Promise<void> {
  let sending: Promise<void> | undefined
  const server = createServer(socket => {
    sending = (async () => {
      for (let sent = 0; sent < bytes; sent += blockBytes) {
        if (!socket.write(block)) await new Promise<void>(resolve => socket.once('drain', resolve))
      }
    })()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  let received = 0
  let done!: () => void
  const finished = new Promise<void>(resolve => { done = resolve })
  const client = connect({
    port: (server.address() as AddressInfo).port,
    host: '127.0.0.1',
    onread: {
      buffer: Buffer.allocUnsafe(4 * MiB),
      callback: (length: number) => {
        received += length
        if (received >= bytes) done()
        return true
      }
    }
  })
  await finished
  await sending
  client.destroy()
  server.close()
}

const stages = {
  read: await cpuPerGiB(pageCacheRead, pageCacheWrite),
  write: await cpuPerGiB(pageCacheWrite),
  sha256: await cpuPerGiB(sha256Blocks),
  seal: await cpuPerGiB(seal),
  open: await cpuPerGiB(openRecords),
  tcp: await cpuPerGiB(loopbackTcp)
}
await rm(scratch, { force: true })

const machine = machineInfo()
const budget = (encrypted: boolean): { sender: number, receiver: number, ceilingMBps: number } => {
  const sender = stages.read + stages.sha256 + stages.tcp / 2 + (encrypted ? stages.seal : 0)
  const receiver = stages.tcp / 2 + stages.sha256 + stages.write + (encrypted ? stages.open : 0)
  return { sender, receiver, ceilingMBps: machine.cores / (sender + receiver) * GiB / 1e6 }
}
const paths = { 'node-encrypted': budget(true), 'node-plain': budget(false) }

console.log(`bench-budget: ${mib} MiB per stage, ${runs} run(s), ${machine.cores} cores, load average ${machine.loadAverage.join(' ')}`)
printTable([
  ['stage', 'CPU s/GiB', 'what it is'],
  ['read', round(stages.read, 2), `page cache → fresh 1 MiB buffers, ${inFlight} in flight`],
  ['sha256', round(stages.sha256, 2), 'one sha256 per 1 MiB block'],
  ['seal', round(stages.seal, 2), `${defaultCipher}, ${maxRecordBytes / MiB} MiB records in ${cipherSliceBytes / 1024} KiB slices`],
  ['tcp', round(stages.tcp, 2), 'loopback send + receive, both ends'],
  ['open', round(stages.open, 2), 'the same records opened'],
  ['write', round(stages.write, 2), `1 MiB blocks into the page cache, ${inFlight} in flight`]
])

interface Measured { mbps: number, senderCpuPerGiB: number, receiverCpuPerGiB: number }
interface P2pResult { path: string, median: { mbps: number, seconds: number, senderCpuPercent: number, receiverCpuPercent: number } }
const measured: Record<string, Measured> = {}
if (values.p2p !== undefined) {
  const report = JSON.parse(await readFile(values.p2p, 'utf8')) as { size: number, results: P2pResult[] }
  for (const result of report.results) {
    if (!(result.path in paths)) continue
    const perGiB = (percent: number): number => percent / 100 * result.median.seconds / (report.size / GiB)
    measured[result.path] = { mbps: result.median.mbps, senderCpuPerGiB: perGiB(result.median.senderCpuPercent), receiverCpuPerGiB: perGiB(result.median.receiverCpuPercent) }
  }
}
console.log()
printTable([
  ['path', 'budget s/GiB sender/receiver', `ceiling MB/s on ${machine.cores} cores`, 'measured MB/s', 'measured s/GiB sender/receiver', 'overhead ×'],
  ...Object.entries(paths).map(([path, { sender, receiver, ceilingMBps }]) => {
    const seen = measured[path]
    return [
      path,
      `${round(sender, 2)} / ${round(receiver, 2)}`,
      Math.round(ceilingMBps),
      seen === undefined ? '-' : seen.mbps,
      seen === undefined ? '-' : `${round(seen.senderCpuPerGiB, 2)} / ${round(seen.receiverCpuPerGiB, 2)}`,
      seen === undefined ? '-' : round((seen.senderCpuPerGiB + seen.receiverCpuPerGiB) / (sender + receiver), 1)
    ]
  })
])
await writeJson(values.out!, { date: new Date().toISOString(), machine, mib, runs, unit: 'CPU seconds per GiB (all threads); MB = 10^6 bytes', stages, paths, measured })
console.log(`wrote ${values.out}`)
