/**
 * A load run against one node: `clients` concurrent HTTP clients send `requests` requests through
 * its proxy, mixing hits, misses (files the node has not seen yet are brought in all through the
 * run) and ranges (single, suffix, open-ended), each body checked byte for byte (sha256 of the
 * slice). Shared by test/load.test.ts (a smaller default) and scripts/bench-load.ts (full size).
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Pool } from 'undici'
import type { FakeHub, FakeRepoInit } from '../fixtures/fake-hub/index.js'
import { seededRandom as random } from '../../src/scheduling/seeded-random.js'

export interface LoadInit {
  clients: number
  requests: number
  /** Seed of the request mix. */
  seed: number
}

export interface LoadResult {
  clients: number
  requests: number
  seconds: number
  requestsPerSecond: number
  /** Body bytes received and checked. */
  bytes: number
  statuses: Record<number, number>
  /** Responses whose status or bytes were not the expected ones (with the first few described). */
  wrong: number
  wrongExamples: string[]
  /** Requests that failed at the transport level (reset, broken body), after one retry of a request the node never answered. */
  errors: number
  /** Requests sent again because their connection closed before any answer (see fetchAndCheck). */
  retried: number
  errorExamples: string[]
  /** Files the node had not seen when they were first asked for. */
  misses: number
  ranges: number
  /** Peak resident set of the node process (VmHWM), in MiB, and its RSS at the end. */
  peakRssMiB: number
  endRssMiB: number
  originBytes: number
}

const KiB = 1024
const MiB = 1024 * KiB
export const loadRepo = 'bench/load'

/** 24 small files (1 KiB-256 KiB) and 8 medium ones (512 KiB-3 MiB), sizes fixed so fixtures are reused. */
export function loadRepoInit (): FakeRepoInit {
  const small = Array.from({ length: 24 }, (_, index) => ({ path: `small-${index}.bin`, size: KiB + Math.floor((index * 7919 % 256) * KiB), lfs: true }))
  const medium = Array.from({ length: 8 }, (_, index) => ({ path: `medium-${index}.bin`, size: 512 * KiB + index * 360 * KiB + 17, lfs: true }))
  return { id: loadRepo, files: [...small, ...medium] }
}


interface PlannedRequest {
  path: string
  /** The Range header, if any, and the slice it must return. */
  range?: string
  start: number
  end: number
}

function plan (init: LoadInit, files: Array<{ path: string, size: number }>): { requests: PlannedRequest[], misses: number } {
  const next = random(init.seed)
  // New files keep appearing: the k-th file is first asked for around request k * spacing.
  const spacing = Math.max(1, Math.floor(init.requests / files.length))
  const order = [...files].sort(() => next() - 0.5)
  const requests: PlannedRequest[] = []
  let introduced = 0
  for (let index = 0; index < init.requests; index++) {
    if (introduced < order.length && index >= introduced * spacing) introduced++
    const file = index === (introduced - 1) * spacing ? order[introduced - 1]! : order[Math.floor(next() * introduced)]!
    const kind = next()
    const size = file.size
    if (kind < 0.4) {
      requests.push({ path: file.path, start: 0, end: size - 1 })
    } else if (kind < 0.7) {
      const a = Math.floor(next() * size)
      const b = Math.floor(next() * size)
      const [start, end] = a <= b ? [a, b] : [b, a]
      requests.push({ path: file.path, range: `bytes=${start}-${end}`, start, end })
    } else if (kind < 0.85) {
      const length = 1 + Math.floor(next() * size * 1.2)
      requests.push({ path: file.path, range: `bytes=-${length}`, start: Math.max(0, size - length), end: size - 1 })
    } else {
      const start = Math.floor(next() * size)
      requests.push({ path: file.path, range: `bytes=${start}-`, start, end: size - 1 })
    }
  }
  return { requests, misses: introduced }
}

async function peakRss (pid: number): Promise<{ peak: number, now: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
  return { peak: kib('VmHWM') / 1024, now: kib('VmRSS') / 1024 }
}

/** One request and its check; a transport failure comes back, with whether it came before the head. */
async function fetchAndCheck (pool: Pool, url: URL, request: PlannedRequest, expected: Buffer, result: LoadResult): Promise<{ message: string, beforeHead: boolean } | undefined> {
  const wantStatus = request.range === undefined ? 200 : 206
  let beforeHead = true
  try {
    const response = await pool.request({
      // Absolute-form: the proxy is asked as a forward proxy, as HTTP_PROXY clients do.
      path: url.href,
      method: 'GET',
      headers: { host: url.host, ...(request.range === undefined ? {} : { range: request.range }) }
    })
    beforeHead = false
    const hash = createHash('sha256')
    let bytes = 0
    for await (const chunk of response.body) {
      hash.update(chunk as Buffer)
      bytes += (chunk as Buffer).length
    }
    result.bytes += bytes
    result.statuses[response.statusCode] = (result.statuses[response.statusCode] ?? 0) + 1
    const want = createHash('sha256').update(expected.subarray(request.start, request.end + 1)).digest('hex')
    if (response.statusCode !== wantStatus || hash.digest('hex') !== want) {
      result.wrong++
      if (result.wrongExamples.length < 5) result.wrongExamples.push(`${request.path} ${request.range ?? 'whole'}: status ${response.statusCode}, ${bytes} bytes, expected ${request.end - request.start + 1}`)
    }
    return undefined
  } catch (error) {
    return { message: `${(error as Error).message} (${beforeHead ? 'before the response head' : 'in the body'})`, beforeHead }
  }
}

/** Runs the load against the node whose proxy is `proxyUrl` and whose process is `pid`. */
export async function runLoad (hub: FakeHub, node: { proxyUrl: string, pid: number }, init: LoadInit): Promise<LoadResult> {
  const files = loadRepoInit().files.map(file => hub.file(loadRepo, file.path))
  const contents = new Map<string, Buffer>()
  for (const file of files) contents.set(file.path, await readFile(file.localPath))
  const { requests, misses } = plan(init, files)
  const pool = new Pool(node.proxyUrl, { connections: init.clients, pipelining: 1 })
  const result: LoadResult = {
    clients: init.clients, requests: init.requests, seconds: 0, requestsPerSecond: 0, bytes: 0, statuses: {},
    wrong: 0, wrongExamples: [], errors: 0, errorExamples: [], retried: 0, misses, ranges: requests.filter(request => request.range !== undefined).length,
    peakRssMiB: 0, endRssMiB: 0, originBytes: 0
  }
  const originBefore = hub.cdn.bytesServed
  let cursor = 0
  const started = performance.now()
  const client = async (): Promise<void> => {
    for (let index = cursor++; index < requests.length; index = cursor++) {
      const request = requests[index]!
      const url = new URL(hub.signedUrl(loadRepo, request.path))
      const expected = contents.get(request.path)!
      const failure = await fetchAndCheck(pool, url, request, expected, result)
      if (failure === undefined) continue
      // A keep-alive connection the node closed as idle just as the request left (its 5 s timer
      // runs from when it wrote the response, the client's from when a starved client read
      // it): curl and urllib3 send such a request again, and so do we, once, and count it.
      const retry = failure.beforeHead ? await fetchAndCheck(pool, url, request, expected, result) : failure
      if (failure.beforeHead) result.retried++
      if (retry === undefined) continue
      result.errors++
      if (result.errorExamples.length < 5) result.errorExamples.push(`${request.path} ${request.range ?? 'whole'}: ${retry.message} (request ${index} at ${((performance.now() - started) / 1000).toFixed(1)} s)`)
    }
  }
  await Promise.all(Array.from({ length: init.clients }, client))
  result.seconds = (performance.now() - started) / 1000
  result.requestsPerSecond = init.requests / result.seconds
  await pool.close()
  const rss = await peakRss(node.pid)
  result.peakRssMiB = rss.peak
  result.endRssMiB = rss.now
  result.originBytes = hub.cdn.bytesServed - originBefore
  return result
}
