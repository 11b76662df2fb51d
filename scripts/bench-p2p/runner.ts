/** The orchestrator's side: spawning the two children, timing a run, watching foreign load. */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { deferred, LINE_PREFIX, type Deferred } from './child.js'
import { MALLOC_TUNED, type PathSpec } from './spec.js'

export interface RunResult {
  mbps: number
  seconds: number
  senderPeakRssMB: number
  receiverPeakRssMB: number
  senderCpuPercent: number
  receiverCpuPercent: number
  /** CPU (in cores) used on the machine by anything else during the transfer, approximate */
  otherLoadCores: number
  /** how many tries it took to get a run with little foreign load */
  attempts?: number
  verified?: boolean
  /** node kind, plain: read slabs the peer started, allocated or reused from its pool (damselfly_data_connection_slabs_total) */
  slabs?: { allocated: number, reused: number }
  /** node kind: bytes of the peer's whole-file sha256 hashed from the blocks as they landed, or read back from disk (damselfly_whole_file_hash_bytes_total) */
  wholeFile?: { landed: number, readBack: number }
  /** node kind: block buffers the seed read served blocks into, allocated or reused (damselfly_block_buffers_total) */
  senderBuffers?: { allocated: number, reused: number }
  /** node kind: the seed's full garbage collections during the run (nodejs_gc_duration_seconds, kind major) */
  senderMajorGcs?: number
}

export interface PathResult {
  path: string
  spec: PathSpec
  runs: RunResult[]
  median: RunResult
}

export function readCpuTicks (): { busy: number, total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  const idle = (f[3] ?? 0) + (f[4] ?? 0)
  return { busy: total - idle, total }
}

export async function machineBusy (ms: number): Promise<number> {
  const a = readCpuTicks()
  await new Promise(resolve => setTimeout(resolve, ms))
  const b = readCpuTicks()
  return (b.busy - a.busy) / Math.max(1, b.total - a.total)
}

export async function waitIdle (maxSeconds: number): Promise<number> {
  const until = Date.now() + maxSeconds * 1000
  let busy = await machineBusy(500)
  while (busy > 0.1 && Date.now() < until) busy = await machineBusy(500)
  return busy
}

export interface Child {
  messages: Array<Record<string, unknown>>
  next: (type: string) => Promise<Record<string, unknown>>
  exited: Promise<number | null>
  kill: () => void
}

export function startChild (args: string[], profDir: string | undefined, profName: string, env: NodeJS.ProcessEnv): Child {
  const profArgs = profDir === undefined ? [] : ['--prof-file', join(profDir, `${profName}.cpuprofile`)]
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./main.js', import.meta.url)), ...args, ...profArgs], { stdio: ['ignore', 'pipe', 'inherit'], env })
  const messages: Array<Record<string, unknown>> = []
  const waiters: Array<{ type: string, d: Deferred<Record<string, unknown>> }> = []
  const exited = deferred<number | null>()
  child.on('exit', code => {
    exited.resolve(code)
    for (const w of waiters) w.d.reject(new Error(`child exited (${String(code)}) before "${w.type}"`))
  })
  createInterface({ input: child.stdout }).on('line', line => {
    if (!line.startsWith(LINE_PREFIX)) { process.stderr.write(line + '\n'); return }
    const msg = JSON.parse(line.slice(LINE_PREFIX.length)) as Record<string, unknown>
    messages.push(msg)
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]
      if (w !== undefined && w.type === msg.type) { waiters.splice(i, 1); w.d.resolve(msg) }
    }
  })
  return {
    messages,
    exited: exited.promise,
    kill: () => { if (child.exitCode === null) child.kill('SIGKILL') },
    next: async (type: string) => {
      const seen = messages.find(m => m.type === type)
      if (seen !== undefined) return seen
      const d = deferred<Record<string, unknown>>()
      waiters.push({ type, d })
      return await d.promise
    }
  }
}

export async function runOnce (spec: PathSpec, size: number, verify: boolean, profDir: string | undefined, run: number): Promise<RunResult> {
  const common = ['--spec', JSON.stringify(spec), '--size', String(size), ...(verify ? ['--verify'] : [])]
  const tag = `${spec.name.replace(/[^a-z0-9=.-]+/gi, '_')}.run${run}`
  // tcp kinds: the sender (uploader) listens and the receiver connects; otherwise the other way
  const senderFirst = spec.kind === 'tcp' || spec.kind === 'tcp-stream'
  const [firstRole, secondRole] = senderFirst ? ['sender', 'receiver'] : ['receiver', 'sender']
  const env = spec.malloc === 'tuned' ? { ...process.env, GLIBC_TUNABLES: MALLOC_TUNED } : process.env
  const first = startChild(['--role', firstRole, ...common], profDir, `${tag}.${firstRole}`, env)
  let second: Child | undefined
  const timeoutMs = Math.max(60_000, size / 20e6 * 1000)
  const timer = setTimeout(() => { first.kill(); second?.kill() }, timeoutMs)
  try {
    const ready = await first.next('ready')
    second = startChild(['--role', secondRole, ...common, '--target', JSON.stringify(ready.target)], profDir, `${tag}.${secondRole}`, env)
    const sender = senderFirst ? first : second
    const receiver = senderFirst ? second : first
    await sender.next('start')
    const ticks0 = readCpuTicks()
    const rdone = await receiver.next('done')
    const ticks1 = readCpuTicks()
    const sdone = await sender.next('done')
    const rdigests = verify ? await receiver.next('digests') : undefined
    await Promise.all([receiver.exited, sender.exited])
    const received = Number(rdone.received)
    if (received !== size) throw new Error(`receiver got ${received} bytes, expected ${size}`)
    const seconds = Number(BigInt(rdone.tEnd as string) - BigInt(sdone.t0 as string)) / 1e9
    const rcpu = rdone.cpu as { cpuSeconds: number, cpuPercent: number } | undefined
    const scpu = sdone.cpu as { cpuSeconds: number, cpuPercent: number } | undefined
    const hz = 100
    const machineCores = ((ticks1.busy - ticks0.busy) / hz) / Math.max(seconds, 1e-9)
    const ourCores = ((rcpu?.cpuSeconds ?? 0) + (scpu?.cpuSeconds ?? 0)) / Math.max(seconds, 1e-9)
    const result: RunResult = {
      mbps: Math.round(size / seconds / 1e6),
      seconds: Number(seconds.toFixed(3)),
      senderPeakRssMB: Number(sdone.peakRssMB),
      receiverPeakRssMB: Number(rdone.peakRssMB),
      senderCpuPercent: scpu?.cpuPercent ?? 0,
      receiverCpuPercent: rcpu?.cpuPercent ?? 0,
      otherLoadCores: Number(Math.max(0, machineCores - ourCores).toFixed(2))
    }
    if (verify) {
      const a = [...((sdone.digests as string[] | undefined) ?? [])].sort().join()
      const b = [...((rdigests?.digests as string[] | undefined) ?? [])].sort().join()
      result.verified = a.length > 0 && a === b
      if (result.verified !== true) throw new Error('sha256 mismatch between sender and receiver')
    }
    return result
  } finally {
    clearTimeout(timer)
    first.kill()
    second?.kill()
  }
}

export function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}
