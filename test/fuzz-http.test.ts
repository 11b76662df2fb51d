/**
 * Property-based fuzzing of the proxy port over raw TCP: thousands of malformed requests
 * (smuggling shapes, bad methods and targets, bad Range, huge heads, garbage, slow clients)
 * against a node in its own process. Properties: the process stays up and /healthy answers;
 * every answer has a status line that parses and a status the RFCs allow for that input (never
 * a 500, never a 200 with wrong bytes); requests that must be refused never reach the origin.
 *
 * Fixed seed in CI; FUZZ_SEED and FUZZ_RUNS (total cases, default 2000) for longer runs.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import fc from 'fast-check'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { fetchThroughProxy } from './helpers/clients.js'
import { framingCases, garbageCases, headerBulkCases, methodCases, rangeCases, targetCases, type CaseBuilder, type CaseContext } from './helpers/http-fuzz-cases.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { rawRequest } from './helpers/raw-http.js'
import { startRecordingOrigin, type RecordingOrigin } from './helpers/recording-origin.js'
import { fuzzSettings } from './helpers/fuzz-settings.js'

const { seed, totalRuns, runsOf } = fuzzSettings(2000, 20)

describe(`HTTP fuzzing of the proxy (seed ${seed}, ${totalRuns} cases)`, () => {
  let hub: FakeHub
  let origin: RecordingOrigin
  let node: NodeProcess
  let context: CaseContext
  let warmUrl: string
  let warmBytes: Buffer
  let counter = 0
  /** marker → case, for every case whose request the origin must never see. */
  const forbidden = new Map<string, string>()

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/fuzz', files: [{ path: 'warm.bin', size: 1024 * 1024 + 123 }] }] })
    origin = await startRecordingOrigin()
    // No retries: an unreachable target answers 502 at once instead of after backoff.
    node = await spawnNode(['--registry', origin.url, '--origin-retries', '0'])
    context = { proxy: node.info.proxy, origin: origin.url }
    warmUrl = hub.signedUrl('acme/fuzz', 'warm.bin')
    warmBytes = await readFile(hub.file('acme/fuzz', 'warm.bin').localPath)
    const warm = await fetchThroughProxy(warmUrl, { proxy: node.proxyUrl })
    assert.equal(warm.sha256, hub.file('acme/fuzz', 'warm.bin').sha256)
  })

  after(async () => {
    await node?.stop()
    await origin?.close()
    await hub?.close()
  })

  async function assertAlive (where: string): Promise<void> {
    assert.equal(node.child.exitCode, null, `the node exited after ${where}: ${node.stderr().slice(-2000)}`)
    const response = await fetch(`http://${node.info.admin}/healthy`)
    assert.equal(response.status, 200, `/healthy after ${where}`)
  }

  /** Sends one case and checks its answer; remembers its marker if the origin must not see it. */
  async function runCase (build: CaseBuilder): Promise<void> {
    const marker = `m${counter++}z`
    const fuzzCase = build(context, marker)
    const where = `${fuzzCase.family}: ${fuzzCase.label}`
    if (fuzzCase.mustNotReachOrigin) forbidden.set(marker, where)
    const answer = await rawRequest(node.info.proxy, fuzzCase.payload, { timeoutMs: fuzzCase.silenceAllowed ? 1000 : 15_000 })
    if (answer.bytes.length > 0) {
      assert.ok(answer.status !== undefined, `${where}: the answer has no valid status line: ${JSON.stringify(answer.bytes.subarray(0, 200).toString('latin1'))}`)
    }
    if (answer.status === undefined) {
      assert.ok(fuzzCase.silenceAllowed, `${where}: no answer (${answer.timedOut ? 'still waiting after 15 s' : 'connection closed'})`)
    } else {
      assert.ok(fuzzCase.allowed(answer.status), `${where}: answered ${answer.statusLine ?? ''} ${JSON.stringify(answer.bytes.subarray(0, 400).toString('latin1'))}`)
    }
    if (counter % 250 === 0) await assertAlive(where)
  }

  async function fuzz (name: string, cases: fc.Arbitrary<CaseBuilder>, share: number): Promise<void> {
    await fc.assert(fc.asyncProperty(cases, runCase), { seed, numRuns: runsOf(share), endOnFailure: process.env.FUZZ_SHRINK === undefined, includeErrorInReport: true })
    await assertAlive(`the ${name} cases`)
  }

  it('refuses request-smuggling shapes with 400 and forwards none of them', async () => {
    await fuzz('framing', framingCases, 0.3)
  })

  it('refuses unknown and malformed methods', async () => {
    await fuzz('method', methodCases, 0.1)
  })

  it('refuses bad request targets and never loops into itself', async () => {
    await fuzz('target', targetCases, 0.2)
  })

  it('answers huge header sections with 431 before forwarding', async () => {
    await fuzz('header bulk', headerBulkCases, 0.1)
  })

  it('answers random bytes with an error status or not at all', async () => {
    await fuzz('garbage', garbageCases, 0.15)
  })

  it('answers every Range on a cached file with the right status and exactly the right bytes', async () => {
    const length = warmBytes.length
    const cdnRequestsBefore = hub.cdn.requests
    const url = new URL(warmUrl)
    await fc.assert(fc.asyncProperty(rangeCases(length), fc.boolean(), async (range, withIfRange) => {
      const ifRange = withIfRange ? 'If-Range: "not-the-etag"\r\n' : ''
      const payload = `GET ${warmUrl} HTTP/1.1\r\nHost: ${url.host}\r\nRange: ${range.header}\r\n${ifRange}\r\n`
      const answer = await rawRequest(node.info.proxy, payload, { timeoutMs: 15_000 })
      const where = `${range.label} ${JSON.stringify(range.header.slice(0, 120))}${withIfRange ? ' with a stale If-Range' : ''}`
      assert.ok(answer.status !== undefined, `${where}: no valid answer: ${JSON.stringify(answer.bytes.subarray(0, 200).toString('latin1'))}`)
      // A stale If-Range turns any valid range into the whole file (RFC 9110 §13.1.5).
      const expected = withIfRange && range.expect(length).status[0] === 206
        ? { status: [200], start: 0, end: length - 1 }
        : range.expect(length)
      const statuses = withIfRange && expected.status[0] === 416 ? [416, 200] : expected.status
      assert.ok(statuses.includes(answer.status), `${where}: answered ${answer.status}, expected ${expected.status.join('/')}`)
      if (answer.status === 200 || answer.status === 206) {
        const start = answer.status === 200 ? 0 : expected.start ?? 0
        const end = answer.status === 200 ? length - 1 : expected.end ?? length - 1
        const body = answer.bytes.subarray(answer.bytes.indexOf('\r\n\r\n') + 4)
        assert.equal(body.length, end - start + 1, `${where}: body length`)
        assert.equal(sha256(body), sha256(warmBytes.subarray(start, end + 1)), `${where}: body bytes`)
        if (answer.status === 206) assert.equal(answer.headers['content-range'], `bytes ${start}-${end}/${length}`, where)
      }
      if (answer.status === 416) assert.equal(answer.headers['content-range'], `bytes */${length}`, where)
    }), { seed, numRuns: runsOf(0.15), endOnFailure: process.env.FUZZ_SHRINK === undefined, includeErrorInReport: true })
    assert.equal(hub.cdn.requests, cdnRequestsBefore, 'a cached file is served without asking the origin')
    await assertAlive('the Range cases')
  })

  it('holds slow, never-finished requests without forwarding them or starving others', async () => {
    const partial = fc.record({
      cut: fc.double({ min: 0.05, max: 0.98, noNaN: true }),
      chunks: fc.integer({ min: 1, max: 6 }),
      gapMs: fc.integer({ min: 5, max: 60 }),
      task: fc.boolean()
    })
    const batches = Math.max(3, Math.round(totalRuns / 300))
    await fc.assert(fc.asyncProperty(fc.array(partial, { minLength: 20, maxLength: 40 }), async (clients) => {
      const slow = clients.map(async (client) => {
        const marker = `m${counter++}z`
        const target = client.task ? `${origin.url}/repos/fuzz/${marker}` : `${origin.url}/api/fuzz/${marker}`
        const request = `GET ${target} HTTP/1.1\r\nHost: fuzz.test\r\nAccept: */*\r\nUser-Agent: slowloris\r\n\r\n`
        // Never the final CRLF: the head is never complete.
        const sent = request.slice(0, Math.min(request.length - 1, Math.floor(request.length * client.cut)))
        forbidden.set(marker, `slow client cut at ${sent.length} of ${request.length} bytes`)
        return await rawRequest(node.info.proxy, sent, { chunks: client.chunks, gapMs: client.gapMs, timeoutMs: 800 })
      })
      // While they hang on, a real client still gets its bytes.
      const real = await fetchThroughProxy(warmUrl, { proxy: node.proxyUrl })
      assert.equal(real.sha256, sha256(warmBytes), 'a real download while slow clients hold connections')
      for (const answer of await Promise.all(slow)) {
        if (answer.status !== undefined) assert.ok([400, 408].includes(answer.status), `slow client answered ${answer.statusLine ?? ''}`)
        else assert.equal(answer.bytes.length, 0, 'a slow client got bytes without a status line')
      }
    }), { seed, numRuns: batches, endOnFailure: true, includeErrorInReport: true })
    await assertAlive('the slow clients')
  })

  it('relays a body sent with Expect: 100-continue (curl does so past 1 KiB)', async () => {
    const body = 'b'.repeat(2000)
    const payload = `POST ${origin.url}/api/fuzz/expect HTTP/1.1\r\nHost: fuzz.test\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n${body}`
    const answer = await rawRequest(node.info.proxy, payload, { timeoutMs: 15_000 })
    assert.equal(answer.status, 200, answer.bytes.toString('latin1'))
    assert.ok(origin.seen.includes('POST /api/fuzz/expect'))
    const ranged = `GET ${warmUrl} HTTP/1.1\r\nHost: fuzz.test\r\nExpect: 100-continue\r\nRange: bytes=0-9\r\n\r\n`
    assert.equal((await rawRequest(node.info.proxy, ranged, { timeoutMs: 15_000 })).status, 206)
  })

  it('forwarded none of the requests it had to refuse', async () => {
    // Late arrivals count too: give anything still in flight a moment.
    await new Promise(resolve => setTimeout(resolve, 500))
    const leaked = origin.seen.flatMap(line => {
      const marker = /\/(m\d+z)/.exec(line)?.[1]
      const what = marker === undefined ? undefined : forbidden.get(marker)
      return what === undefined ? [] : [`${line} (${what})`]
    })
    assert.deepEqual(leaked, [])
    assert.ok(forbidden.size > 500, `only ${forbidden.size} refused cases were checked`)
    await assertAlive('all cases')
  })
})

function sha256 (bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}
