/**
 * The real path (`node` kind): two Damselfly nodes as their own processes, a seed holding a task
 * and a peer that fills it from the seed through the data connection — no client attached, every
 * block written to the peer's disk and every piece hashed, as in production. The figure sits next
 * to the raw ceilings (tcp-onread, side-chacha-tuned, side-plain-tuned) of the same run.
 *
 * The peer is started by a one-byte range request through its proxy (the task then fills whole,
 * with nobody reading it) and the clock stops when its /api/status shows the task complete.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { startFakeHub, type FakeHub } from '../../test/fixtures/fake-hub/index.js'
import { spawnNode, type NodeProcess } from '../../test/helpers/nodes.js'
import { parsePrometheusText, sampleValue } from '../../test/helpers/prometheus-text.js'
import { nodeStatus } from '../../test/helpers/status.js'
import { waitFor } from '../../test/helpers/wait.js'
import { readCpuTicks, type RunResult } from './runner.js'
import { MALLOC_TUNED, type PathSpec } from './spec.js'

const repo = 'bench/p2p'
const hubs = new Map<number, FakeHub>()
const seeds = new Map<string, NodeProcess>()
const peers: NodeProcess[] = []

async function hubFor (size: number): Promise<FakeHub> {
  let hub = hubs.get(size)
  if (hub === undefined) {
    hub = await startFakeHub({ repos: [{ id: repo, files: [{ path: `${size}.bin`, size }] }] })
    hubs.set(size, hub)
  }
  return hub
}

function nodeFlags (spec: PathSpec): { flags: string[], env: Record<string, string> } {
  return {
    flags: ['--data-encryption', String(spec.rec !== 'plain'), '--log-level', 'error'],
    // spawnNode starts nodes with the node's own settings (process-tuning.ts) unless told otherwise ('' = none).
    env: spec.malloc === 'tuned' ? { GLIBC_TUNABLES: MALLOC_TUNED, NODE_OPTIONS: '' } : spec.malloc === 'default' ? { GLIBC_TUNABLES: '', NODE_OPTIONS: '' } : {}
  }
}

/** GET through a node's proxy; resolves with the bytes of the body, which it throws away. */
async function throughProxy (node: NodeProcess, url: string, range?: string): Promise<number> {
  const [host, port] = node.info.proxy.split(':')
  return await new Promise<number>((resolve, reject) => {
    const request = http.get({ host, port: Number(port), path: url, headers: range === undefined ? {} : { range } }, (response) => {
      let bytes = 0
      response.on('data', (chunk: Buffer) => { bytes += chunk.length })
      response.on('end', () => {
        if ((response.statusCode ?? 0) >= 300) reject(new Error(`proxy answered ${response.statusCode ?? '?'}`))
        else resolve(bytes)
      })
      response.on('error', reject)
    })
    request.on('error', reject)
  })
}

/** A seed holding the file, one per record mode, started and filled once (not timed). */
async function seedFor (spec: PathSpec, hub: FakeHub, size: number, profileDir?: string): Promise<NodeProcess> {
  const key = `${spec.rec}:${spec.malloc}:${size}`
  let seed = seeds.get(key)
  if (seed === undefined) {
    const { flags, env } = nodeFlags(spec)
    seed = await spawnNode(['--role', 'seed', ...flags], undefined, env, profiled(profileDir))
    seeds.set(key, seed)
    const got = await throughProxy(seed, hub.signedUrl(repo, `${size}.bin`))
    if (got !== size) throw new Error(`the seed took ${got} of ${size} bytes from the fake CDN`)
  }
  return seed
}

/**
 * --cpu-prof DIR: the node writes a V8 profile of its whole life there when it stops (the seed's
 * includes its fetch from the fake CDN). Node refuses --cpu-prof in NODE_OPTIONS: a shell that
 * execs node with it keeps the pid.
 */
function profiled (profileDir: string | undefined): string[] {
  return profileDir === undefined ? [] : ['sh', '-c', `exec "$0" --cpu-prof --cpu-prof-dir=${profileDir} "$@"`]
}

/** User + system CPU seconds a process used so far (Linux /proc). */
function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function peakRssMB (pid: number): number {
  const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Math.round(Number(kib ?? 0) * 1024 / 1e6)
}

async function metric (node: NodeProcess, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://${node.info.admin}/metrics`)).text()
  return (parsePrometheusText(text).get(name)?.samples ?? [])
    .filter(sample => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0)
}

/** The seed's counters a run reports as differences (see seedCounters). */
interface SeedCounters {
  /** Verified-reader block buffers, by outcome (damselfly_block_buffers_total). */
  buffers: { allocated: number, reused: number }
  /**
   * Full (major) garbage collections (prom-client's nodejs_gc_duration_seconds): a seed sending a
   * GiB runs 0-3, and 40-70 when V8's old-generation limit leaves too little slack for its
   * buffers (src/cli/process-tuning.ts, nodeFlags).
   */
  majorGcs: number
}

/**
 * The seed's counters, from one read of its /metrics. A missing buffers series is an error (the
 * node always exports both); prom-client adds a GC kind's series at its first collection, so
 * none yet is 0.
 */
async function seedCounters (node: NodeProcess): Promise<SeedCounters> {
  const families = parsePrometheusText(await (await fetch(`http://${node.info.admin}/metrics`)).text())
  const buffers = (outcome: string): number => {
    const found = sampleValue(families, 'damselfly_block_buffers_total', { outcome })
    if (found === undefined) throw new Error(`the seed's /metrics has no damselfly_block_buffers_total{outcome="${outcome}"}`)
    return found
  }
  return {
    buffers: { allocated: buffers('allocated'), reused: buffers('reused') },
    majorGcs: sampleValue(families, 'nodejs_gc_duration_seconds_count', { kind: 'major' }) ?? 0
  }
}

/** One run: a fresh peer fills the task from the seed; bytes must all come over the data connection. */
export async function runNodeOnce (spec: PathSpec, size: number, profileDir?: string): Promise<RunResult> {
  const hub = await hubFor(size)
  const seed = await seedFor(spec, hub, size, profileDir)
  const { flags, env } = nodeFlags(spec)
  const peer = await spawnNode(['--bootstrap', seed.info.multiaddrs[0]!, '--back-to-source', 'false', ...flags], undefined, env, profiled(profileDir))
  peers.push(peer)
  try {
    await waitFor('the peer to meet the seed', async () => (await nodeStatus(peer.info.admin)).peers.includes(seed.info.peerId), 30_000)
    const seedPid = seed.child.pid!
    const peerPid = peer.child.pid!
    const seed0 = await seedCounters(seed)
    const cpu0 = { seed: cpuSeconds(seedPid), peer: cpuSeconds(peerPid) }
    const ticks0 = readCpuTicks()
    const started = performance.now()
    await throughProxy(peer, hub.signedUrl(repo, `${size}.bin`), 'bytes=0-0')
    await waitFor('the peer to hold the whole task', async () => (await nodeStatus(peer.info.admin)).tasks[0]?.status === 'complete', Math.max(120_000, size / 5e6 * 1000))
    const seconds = (performance.now() - started) / 1000
    const ticks1 = readCpuTicks()
    const used = { seed: cpuSeconds(seedPid) - cpu0.seed, peer: cpuSeconds(peerPid) - cpu0.peer }
    const task = (await nodeStatus(peer.info.admin)).tasks[0]!
    const overData = await metric(peer, 'damselfly_data_connection_bytes_total', { direction: 'received' })
    if (task.bytesFromPeers !== size || overData !== size) throw new Error(`the peer took ${task.bytesFromPeers} bytes from peers, ${overData} over the data connection, of ${size}`)
    const slabs = spec.rec === 'plain'
      ? { allocated: await metric(peer, 'damselfly_data_connection_slabs_total', { outcome: 'allocated' }), reused: await metric(peer, 'damselfly_data_connection_slabs_total', { outcome: 'reused' }) }
      : undefined
    // The peer's whole-file sha256: bytes hashed from the blocks as they landed, or read back from disk.
    const wholeFile = { landed: await metric(peer, 'damselfly_whole_file_hash_bytes_total', { how: 'landed' }), readBack: await metric(peer, 'damselfly_whole_file_hash_bytes_total', { how: 'read' }) }
    const seed1 = await seedCounters(seed)
    const senderMajorGcs = seed1.majorGcs - seed0.majorGcs
    const senderBuffers = { allocated: seed1.buffers.allocated - seed0.buffers.allocated, reused: seed1.buffers.reused - seed0.buffers.reused }
    const machineCores = (ticks1.busy - ticks0.busy) / 100 / seconds
    return {
      mbps: Math.round(size / seconds / 1e6),
      seconds: Number(seconds.toFixed(3)),
      senderPeakRssMB: peakRssMB(seedPid),
      receiverPeakRssMB: peakRssMB(peerPid),
      senderCpuPercent: Math.round(100 * used.seed / seconds),
      receiverCpuPercent: Math.round(100 * used.peer / seconds),
      otherLoadCores: Number(Math.max(0, machineCores - (used.seed + used.peer) / seconds).toFixed(2)),
      verified: task.verified,
      senderBuffers,
      senderMajorGcs,
      wholeFile,
      ...(slabs === undefined ? {} : { slabs })
    }
  } finally {
    await peer.stop()
    peers.splice(peers.indexOf(peer), 1)
  }
}

/** Stops the seeds and fake hubs the node runs started. */
export async function closeNodeBench (): Promise<void> {
  await Promise.all([...peers, ...seeds.values()].map(async node => await node.stop()))
  seeds.clear()
  await Promise.all([...hubs.values()].map(async hub => await hub.close()))
  hubs.clear()
}
