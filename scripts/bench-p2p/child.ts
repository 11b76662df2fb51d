/** What both child processes of bench-p2p share: reporting, timing, payload, hashing, sockets. */
import { createHash, type Hash } from 'node:crypto'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import type { Connection } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { PathSpec } from './spec.js'

export const LINE_PREFIX = '@bench '
export const PROTOCOL = '/damselfly/bench-p2p/1.0.0'
export const SIDE_PROTOCOL = '/damselfly/bench-side-key/1.0.0'

export function hr (): bigint { return process.hrtime.bigint() }

export function report (msg: Record<string, unknown>): void {
  process.stdout.write(LINE_PREFIX + JSON.stringify(msg, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v) + '\n')
}

export interface Deferred<T> { promise: Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void }
export function deferred<T> (): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** Byte share of stream `i` out of `n` streams for `total` bytes. */
export function share (total: number, n: number, i: number): number {
  const base = Math.floor(total / n)
  return i === n - 1 ? total - base * (n - 1) : base
}

export function makePayload (write: number): Buffer {
  // deterministic, not all-zero: xorshift fill
  const buf = Buffer.allocUnsafe(write)
  let x = 0x9e3779b9
  for (let i = 0; i < write; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    buf[i] = x & 0xff
  }
  return buf
}

/**
 * CPU profile of the transfer only (not start-up): the V8 sampling profiler through the inspector,
 * written as a .cpuprofile that Chrome DevTools opens.
 */
export async function startProfiler (file: string | undefined): Promise<() => Promise<void>> {
  if (file === undefined) return async () => {}
  const { Session } = await import('node:inspector/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}

export class Meter {
  private readonly cpu0: NodeJS.CpuUsage
  private readonly t0: bigint
  constructor () { this.cpu0 = process.cpuUsage(); this.t0 = hr() }
  finish (): { cpuSeconds: number, wallSeconds: number, cpuPercent: number } {
    const cpu = process.cpuUsage(this.cpu0)
    const wall = Number(hr() - this.t0) / 1e9
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    return { cpuSeconds, wallSeconds: wall, cpuPercent: Math.round(100 * cpuSeconds / wall) }
  }
}

export function peakRssMB (): number {
  return Math.round(process.resourceUsage().maxRSS * 1024 / 1e6)
}

export function byteLength (chunk: { byteLength: number }): number { return chunk.byteLength }

export interface Hasher { update: (chunk: Uint8Array) => void, digest: () => string }
export function makeHasher (verify: boolean): Hasher {
  if (!verify) return { update: () => {}, digest: () => '' }
  const h: Hash = createHash('sha256')
  return { update: (c) => { h.update(c) }, digest: () => h.digest('hex') }
}

/** Receiver-side bookkeeping shared by all paths. */
export class Sink {
  received = 0
  tFirst: bigint | undefined
  tEnd: bigint | undefined
  meter: Meter | undefined
  readonly digests: string[] = []
  readonly done = deferred<void>()
  constructor (private readonly size: number, private readonly verify = false) {}
  /** A hasher for one stream (a no-op unless verifying). */
  hasher (): Hasher { return makeHasher(this.verify) }
  add (n: number): void {
    if (this.tFirst === undefined) { this.tFirst = hr(); this.meter = new Meter() }
    this.received += n
    if (this.received >= this.size && this.tEnd === undefined) {
      this.tEnd = hr()
      this.done.resolve()
    }
  }
}

export interface Target { port?: number, addr?: string }

export function hostOf (conn: Connection): string {
  return conn.remoteAddr.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value ?? '127.0.0.1'
}

/** Connect for receiving; with spec.onread, socket reads land in one reused buffer (no allocation). */
export function connectReceiving (spec: PathSpec, port: number, host: string, onChunk: (chunk: Buffer) => boolean | undefined): net.Socket {
  if (spec.onread) {
    const buffer = Buffer.allocUnsafe(spec.rbuf)
    // returning false pauses the socket (the async reader does so while its queue is full)
    return net.connect({ port, host, onread: { buffer, callback: (n: number) => onChunk(buffer.subarray(0, n)) !== false } })
  }
  const sock = net.connect(port, host)
  sock.on('data', (chunk: Buffer) => { if (onChunk(chunk) === false) sock.pause() })
  return sock
}

export async function readExactly (sock: net.Socket, n: number): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let have = 0
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      have += chunk.length
      if (have < n) return
      sock.off('data', onData)
      sock.pause()
      const all = Buffer.concat(chunks)
      if (all.length > n) sock.unshift(all.subarray(n))
      resolve(all.subarray(0, n))
    }
    sock.on('data', onData)
    sock.once('error', reject)
  })
}

export async function untilNoConnections (node: Libp2p, maxMs = 60_000): Promise<void> {
  const until = Date.now() + maxMs
  while (node.getConnections().length > 0 && Date.now() < until) {
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export async function writeAll (sock: net.Socket, payload: Buffer, bytes: number, hasher: Hasher): Promise<void> {
  let left = bytes
  while (left > 0) {
    const n = Math.min(payload.length, left)
    left -= n
    const chunk = n === payload.length ? payload : payload.subarray(0, n)
    hasher.update(chunk)
    if (!sock.write(chunk)) await once(sock, 'drain')
  }
  sock.end()
  await once(sock, 'finish')
}
