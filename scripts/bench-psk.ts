/**
 * Private-network (PSK) protector throughput: one stream over tcp + noise + yamux on loopback,
 * the receiver in this process and the sender in a child process (two processes, as on two
 * hosts; each gets a core of a 2-core machine). Rows:
 *
 * - `none`: no protector, the baseline;
 * - `psk`: our protector (src/p2p/psk), `@noble/ciphers` XSalsa20;
 * - `pnet`: stock `@libp2p/pnet@3.0.27`, only 64 MiB, to show it breaking (its WASM XSalsa20
 *   runs out of memory after 50–90 MB and the receiver sees a normal end: a short transfer);
 * - `xsalsa20 only`: our keystream XOR on 64 KiB chunks in one thread, no network: the cipher's
 *   own ceiling.
 *
 * Every transfer is hashed (sha256) on both ends; a row is `ok` only when the receiver got every
 * byte and the hashes match. MB = 10^6 bytes. Prints a table and writes results/bench-psk.json.
 *
 *   node dist/scripts/bench-psk.js [--bytes 1GiB] [--pnet-bytes 64MiB] [--modes none,psk,pnet]
 *
 * Measured 2026-11-28 on the 2-core AMD EPYC VM (Node 20.20.2, other jobs running, so wall
 * times vary 2x; 1 GiB, four paired runs): tcp+noise+yamux 84–200 MB/s (CPU 2.6–3.3 s/GB
 * sending, 4.2–5.3 receiving); with our protector 47–114 MB/s, 0.54–0.58 of the baseline in
 * every pair (6.3–9.1 and 8.1–11.9 s/GB), peak RSS ~135–166 MB per process;
 * `@libp2p/pnet` delivered 51–59 MB of 64 MiB and the receiver's stream ended normally; the
 * keystream alone 285–322 MB/s (3.1–3.5 s/GB). CPU profiles (`--cpu-prof`, passed on to the
 * sender): noble's salsaCore + runCipher take ~55% of the sender's busy time and ~45% of the
 * receiver's; our copies, allocations and message-stream layer ~2–3%.
 * Decided from it: the protector moves any size correctly and its cost is the JavaScript
 * XSalsa20 itself (of the ~4–5 CPU s/GB it adds per side, ~3.3 are the keystream), so
 * there is nothing left to win around the cipher; encrypting at most 64 KiB per write (not the
 * whole queued buffer) measured ~15% faster and is kept.
 */
import '../src/polyfill.js'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { scriptArgs } from './lib/args.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Stream } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { generatePskKey, pskProtector, XSalsa20Stream } from '../src/p2p/psk/index.js'

type Mode = 'none' | 'psk' | 'pnet'
const PROTOCOL = '/damselfly/bench/bulk/1.0.0'
const CHUNK = 256 * 1024

interface Row {
  mode: string
  bytes: number
  received: number
  seconds: number
  mbPerSecond: number
  /** CPU time (user + system) per 10^9 bytes moved, each side: less sensitive to a busy machine than MB/s. */
  senderCpuSecondsPerGB?: number
  receiverCpuSecondsPerGB?: number
  /** Peak resident memory of each process, MB: bounded whatever the size moved. */
  senderMaxRssMB?: number
  receiverMaxRssMB?: number
  outcome: string
}

const values = scriptArgs({
  name: 'bench-psk',
  summary: 'Private-network (PSK) protector throughput over tcp + noise + yamux on loopback, sender and receiver in two processes, every transfer hashed.',
  options: {
    bytes: { type: 'string', default: '1GiB', valueName: 'SIZE', description: 'bytes moved per row' },
    'pnet-bytes': { type: 'string', default: '64MiB', valueName: 'SIZE', description: 'bytes moved through the stock @libp2p/pnet (it breaks past 50-90 MB)' },
    modes: { type: 'string', default: 'none,psk,pnet', valueName: 'LIST', description: 'rows to run: none, psk, pnet' },
    sender: { type: 'boolean', default: false, internal: true, description: 'the child process that sends' },
    mode: { type: 'string', internal: true, description: 'the sender\'s mode' },
    to: { type: 'string', internal: true, description: 'the receiver\'s address' }
  }
})

if (values.sender) {
  await runSender(values.mode as Mode, values.to ?? '', parseSize(values.bytes))
} else {
  await runBench()
}

async function runBench (): Promise<void> {
  const psk = generatePskKey()
  const rows: Row[] = []
  for (const mode of values.modes.split(',') as Mode[]) {
    const bytes = parseSize(mode === 'pnet' ? values['pnet-bytes'] : values.bytes)
    rows.push(await transfer(mode, bytes, psk))
  }
  rows.push(cipherOnly(256 * 1024 * 1024))

  const table = [
    '| path | bytes | received | s | MB/s | CPU s/GB sender | CPU s/GB receiver | peak RSS MB sender | peak RSS MB receiver | result |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((row) => `| ${row.mode} | ${row.bytes} | ${row.received} | ${row.seconds.toFixed(2)} | ${row.mbPerSecond.toFixed(0)} | ${row.senderCpuSecondsPerGB?.toFixed(2) ?? '-'} | ${row.receiverCpuSecondsPerGB?.toFixed(2) ?? '-'} | ${row.senderMaxRssMB ?? '-'} | ${row.receiverMaxRssMB ?? '-'} | ${row.outcome} |`)
  ].join('\n')
  process.stdout.write(`${table}\n`)
  const output = fileURLToPath(new URL('../../results/bench-psk.json', import.meta.url))
  await mkdir(fileURLToPath(new URL('../../results/', import.meta.url)), { recursive: true })
  await writeFile(output, JSON.stringify({
    benchmark: 'bench-psk',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    chunkBytes: CHUNK,
    rows
  }, null, 2) + '\n')
  process.stdout.write(`wrote ${output}\n`)
}

/** One transfer: the receiver here, the sender in a child process. */
async function transfer (mode: Mode, bytes: number, psk: Uint8Array): Promise<Row> {
  const receiver = await startNode(mode, psk)
  try {
    let firstByteAt = 0
    let cpuAtFirstByte = process.cpuUsage()
    const received = new Promise<{ bytes: number, digest: string, endedAt: number, cpuSeconds: number, error: string | undefined }>((resolve) => {
      void receiver.handle(PROTOCOL, async (stream: Stream) => {
        const hash = createHash('sha256')
        let count = 0
        let error: string | undefined
        try {
          for await (const message of stream) {
            if (firstByteAt === 0) {
              firstByteAt = performance.now()
              cpuAtFirstByte = process.cpuUsage()
            }
            for (const chunk of message instanceof Uint8Array ? [message] : message) {
              hash.update(chunk)
              count += chunk.byteLength
            }
          }
        } catch (failure) {
          error = describe(failure)
        }
        const endedAt = performance.now()
        const cpuSeconds = cpuSecondsSince(cpuAtFirstByte)
        const digest = hash.digest('hex')
        // The sender waits for this before it stops its node: stopping right after close()
        // can cut bytes still queued below the stream (a short transfer that ends normally).
        try {
          stream.send(new TextEncoder().encode(JSON.stringify({ bytes: count, digest })))
          await stream.close()
        } catch {
          // The stream is gone (a failed transfer): the sender finds out on its own.
        }
        resolve({ bytes: count, digest, endedAt, cpuSeconds, error })
      })
    })
    const address = receiver.getMultiaddrs()[0]?.toString() ?? ''
    // execArgv passes flags such as --cpu-prof on to the sender.
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--sender', '--mode', mode, '--to', address, '--bytes', String(bytes)], {
      env: { ...process.env, DAMSELFLY_BENCH_PSK: Buffer.from(psk).toString('hex') },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    const exited = new Promise<number | null>((resolve) => { child.on('exit', resolve) })
    const timeout = new Promise<'timeout'>((resolve) => { setTimeout(() => { resolve('timeout') }, 300_000).unref() })
    const result = await Promise.race([received, exited.then(async () => await Promise.race([received, delay(2_000)])), timeout])
    await exited
    const sent = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { digest?: string, error?: string, cpuSeconds?: number, maxRssMB?: number }
    if (result === 'timeout' || result === undefined) {
      return { mode, bytes, received: 0, seconds: 0, mbPerSecond: 0, outcome: `no end of stream (sender: ${sent.error ?? 'done'})` }
    }
    const seconds = (result.endedAt - firstByteAt) / 1000
    const ok = result.bytes === bytes && result.digest === sent.digest
    const outcome = ok
      ? 'ok, sha256 matches'
      : `FAILED: got ${result.bytes} of ${bytes} bytes${result.error === undefined ? ', and the stream ended normally' : `, the stream failed: ${result.error}`}${sent.error === undefined ? '' : `; sender: ${sent.error}`}`
    return {
      mode: label(mode),
      bytes,
      received: result.bytes,
      seconds,
      mbPerSecond: result.bytes / 1e6 / seconds,
      senderCpuSecondsPerGB: sent.cpuSeconds === undefined ? undefined : sent.cpuSeconds / (bytes / 1e9),
      receiverCpuSecondsPerGB: result.cpuSeconds / (result.bytes / 1e9),
      senderMaxRssMB: sent.maxRssMB,
      receiverMaxRssMB: maxRssMB(),
      outcome
    }
  } finally {
    await receiver.stop()
  }
}

async function runSender (mode: Mode, to: string, bytes: number): Promise<void> {
  const psk = Buffer.from(process.env.DAMSELFLY_BENCH_PSK ?? '', 'hex')
  const node = await startNode(mode, psk)
  const hash = createHash('sha256')
  const result: { digest?: string, error?: string, cpuSeconds?: number, maxRssMB?: number } = {}
  try {
    const signal = AbortSignal.timeout(240_000)
    const stream = await node.dialProtocol(multiaddr(to), PROTOCOL, { signal })
    const cpuAtStart = process.cpuUsage()
    // 13 random buffers in turn: the data costs nothing to make and is never held whole.
    const pool = Array.from({ length: 13 }, () => randomBytes(CHUNK))
    let sent = 0
    for (let index = 0; sent < bytes; index++) {
      const chunk = (pool[index % pool.length] as Buffer).subarray(0, Math.min(CHUNK, bytes - sent))
      hash.update(chunk)
      sent += chunk.byteLength
      if (!stream.send(chunk)) await stream.onDrain({ signal })
    }
    await stream.close({ signal })
    result.cpuSeconds = cpuSecondsSince(cpuAtStart)
    result.digest = hash.digest('hex')
    for await (const reply of stream) void reply // the receiver's summary: it has everything

  } catch (error) {
    result.error = describe(error)
  } finally {
    try { await node.stop() } catch {}
  }
  result.maxRssMB = maxRssMB()
  process.stdout.write(JSON.stringify(result) + '\n')
}

async function startNode (mode: Mode, psk: Uint8Array): Promise<Libp2p> {
  const protectors: Record<Mode, Libp2pOptions['connectionProtector']> = {
    none: undefined,
    psk: pskProtector({ psk }),
    pnet: preSharedKey({ psk })
  }
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: protectors[mode]
  })
}

/** Our keystream XOR alone, in place on 64 KiB chunks: the ceiling the cipher sets. */
function cipherOnly (bytes: number): Row {
  const stream = new XSalsa20Stream(randomBytes(32), randomBytes(24))
  const chunk = new Uint8Array(64 * 1024)
  const started = performance.now()
  for (let done = 0; done < bytes; done += chunk.byteLength) stream.xor(chunk)
  const seconds = (performance.now() - started) / 1000
  return { mode: 'xsalsa20 only (1 core, no network)', bytes, received: bytes, seconds, mbPerSecond: bytes / 1e6 / seconds, receiverCpuSecondsPerGB: seconds / (bytes / 1e9), outcome: 'ok' }
}

/** An error as one line; `onDrain()` can reject with a stream event that carries the error. */
function describe (error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  if (error instanceof Event) {
    const cause = (error as Event & { error?: unknown }).error
    return `${error.type} event${cause === undefined ? '' : ` (${describe(cause)})`}`
  }
  return String(error)
}

/** Peak RSS of this process so far (the receiver's includes the transfers before it). */
function maxRssMB (): number {
  return Math.round(process.resourceUsage().maxRSS / 1024)
}

function cpuSecondsSince (start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1e6
}

function label (mode: Mode): string {
  return { none: 'tcp+noise+yamux', psk: 'tcp+psk+noise+yamux (ours)', pnet: 'tcp+pnet+noise+yamux (@libp2p/pnet)' }[mode]
}

function parseSize (text: string): number {
  const match = /^(\d+)\s*(B|KiB|MiB|GiB)?$/i.exec(text)
  if (match === null) throw new Error(`not a size: ${text}`)
  const units: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }
  return Number(match[1]) * (units[(match[2] ?? 'b').toLowerCase()] ?? 1)
}

async function delay (ms: number): Promise<undefined> {
  return await new Promise((resolve) => { setTimeout(() => { resolve(undefined) }, ms).unref() })
}
