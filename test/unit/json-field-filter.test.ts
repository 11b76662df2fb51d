import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import fc from 'fast-check'
import { hubApiCall } from '../../src/hub/hub-api.js'
import { JsonFieldFilter } from '../../src/hub/json-field-filter.js'
import { fuzzSettings } from '../helpers/fuzz-settings.js'

const DROPPED = ['xetHash', 'xetEnabled']
const { seed, runsOf } = fuzzSettings(600, 50)

/** Runs `text` through a filter, cut into chunks at the given byte offsets. */
async function filtered (text: string | Buffer, cuts: number[] = []): Promise<string> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text)
  const points = [...new Set(cuts.map(cut => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const point of [...points, bytes.length]) {
    if (point > from) chunks.push(bytes.subarray(from, point))
    from = Math.max(from, point)
  }
  const out: Buffer[] = []
  await pipeline(Readable.from(chunks), new JsonFieldFilter(DROPPED), new Writable({
    write (chunk: Buffer, _encoding, callback) { out.push(chunk); callback() }
  }))
  return Buffer.concat(out).toString()
}

/** The value with every member named in DROPPED removed, at any depth, order kept. */
function withoutDropped (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDropped)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([name]) => !DROPPED.includes(name)).map(([name, inner]) => [name, withoutDropped(inner)]))
  }
  return value
}

/** Random JSON whose objects often carry the dropped names, in any position. */
const documents = fc.letrec(tie => ({
  value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...DROPPED, 'lfs', 'oid', 'xetHashes', 'x"etHash', ''), fc.string()), tie('value')), { maxLength: 6 })
    .map(members => Object.fromEntries(members))
})).value

describe('JSON field filter (Xet fields out of Hub listings)', () => {
  it('drops the named members at any depth and leaves every other byte (compact JSON, any chunking)', async () => {
    await fc.assert(fc.asyncProperty(documents, fc.array(fc.nat(), { maxLength: 8 }), async (doc, cuts) => {
      const out = await filtered(JSON.stringify(doc), cuts)
      assert.equal(out, JSON.stringify(withoutDropped(doc)))
    }), { seed, numRuns: runsOf(0.5) })
  })

  it('keeps values and member order of indented documents', async () => {
    await fc.assert(fc.asyncProperty(documents, fc.array(fc.nat(), { maxLength: 8 }), async (doc, cuts) => {
      const out = await filtered(JSON.stringify(doc, null, 2), cuts)
      assert.equal(JSON.stringify(JSON.parse(out)), JSON.stringify(withoutDropped(doc)))
    }), { seed, numRuns: runsOf(0.5) })
  })

  it('a Hub tree listing: xetHash gone, lfs and the rest byte for byte', async () => {
    const tree = '[{"type":"directory","oid":"abc","size":0,"path":"tok"},' +
      '{"type":"file","oid":"def","size":123,"path":"model.safetensors","xetHash":"0f1e","lfs":{"oid":"aa","size":123,"pointerSize":134}},' +
      '{"type":"file","xetHash":"77","oid":"9","size":1,"path":"a \\"xetHash\\": {["}]'
    assert.equal(await filtered(tree, [17, 90, 91, 150]),
      '[{"type":"directory","oid":"abc","size":0,"path":"tok"},' +
      '{"type":"file","oid":"def","size":123,"path":"model.safetensors","lfs":{"oid":"aa","size":123,"pointerSize":134}},' +
      '{"type":"file","oid":"9","size":1,"path":"a \\"xetHash\\": {["}]')
  })

  it('recognises an escaped name, and passes multi-byte characters split across chunks', async () => {
    const text = '{"xet\\u0048ash":"x","名前":"値","xetEnabled":true}'
    for (let cut = 0; cut <= Buffer.byteLength(text); cut++) {
      assert.equal(await filtered(text, [cut]), '{"名前":"値"}')
    }
  })

  it('streams: a 40 MB listing leaves as it arrives, never held back', async () => {
    const xetMember = `"xetHash":"${'e'.repeat(64)}",`
    const entry = (i: number): string => `{"type":"file","oid":"${i}","size":${i},${xetMember}"path":"shard-${i}.bin"},`
    let produced = 0
    /** What the filter should have sent for everything produced so far. */
    let expected = 0
    let received = 0
    let maxLag = 0
    async function * source (): AsyncGenerator<Buffer> {
      yield Buffer.from('[')
      for (let batch = 0; produced < 40e6; batch++) {
        let text = ''
        for (let i = 0; i < 400; i++) text += entry(batch * 400 + i)
        const chunk = Buffer.from(text)
        produced += chunk.length
        expected += chunk.length - 400 * xetMember.length
        maxLag = Math.max(maxLag, expected - received)
        yield chunk
      }
      yield Buffer.from('{}]')
    }
    await pipeline(Readable.from(source()), new JsonFieldFilter(DROPPED), new Writable({
      write (chunk: Buffer, _encoding, callback) { received += chunk.length; callback() }
    }))
    assert.equal(received, expected + 4, 'every xetHash member removed, nothing else')
    // Stream buffers between the stages hold a few hundred KiB at most; a filter that kept the
    // document would lag by all of it.
    assert.ok(maxLag < 2e6, `output lagged input by ${maxLag} bytes`)
  })
})

describe('Hub API calls whose answers are filtered', () => {
  it('classifies listings and Xet token requests', () => {
    assert.deepEqual(hubApiCall('GET', '/api/models/acme/llm/tree/main'), { kind: 'listing', repo: 'acme/llm' })
    assert.deepEqual(hubApiCall('GET', '/api/datasets/acme/set/tree/refs%2Fpr%2F1/data/sub'), { kind: 'listing', repo: 'acme/set' })
    assert.deepEqual(hubApiCall('POST', '/api/spaces/acme/app/paths-info/main'), { kind: 'listing', repo: 'acme/app' })
    assert.deepEqual(hubApiCall('GET', '/api/models/acme/llm'), { kind: 'listing', repo: 'acme/llm' })
    assert.deepEqual(hubApiCall('GET', '/api/models/gpt2/revision/main'), { kind: 'listing', repo: 'gpt2' })
    assert.deepEqual(hubApiCall('GET', '/api/models'), { kind: 'listing' })
    assert.deepEqual(hubApiCall('GET', '/api/models/acme/llm/xet-read-token/0123'), { kind: 'xet-read-token', repo: 'acme/llm' })
    assert.equal(hubApiCall('POST', '/api/models/acme/llm/tree/main'), undefined)
    assert.equal(hubApiCall('GET', '/api/models/acme/llm/paths-info/main'), undefined)
    assert.equal(hubApiCall('GET', '/api/whoami-v2'), undefined)
    assert.equal(hubApiCall('GET', '/acme/llm/resolve/main/x'), undefined)
  })
})
