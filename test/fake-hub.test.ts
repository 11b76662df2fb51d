import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, open, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import { downloadFile } from '@huggingface/hub'
import { Agent, request } from 'undici'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { waitFor } from './helpers/wait.js'

const MiB = 2 ** 20
const MODEL_REPO = 'acme/tiny-model'
const MODEL_FILE = 'model.safetensors'
const MODEL_SIZE = 8 * MiB
const PRIVATE_REPO = 'acme/secret-model'
const TOKEN = 'hf_fake_token'
const DATASET_REPO = 'acme/corpus'

interface Answer {
  status: number
  headers: Record<string, string>
  body: Buffer
}

let dir: string
let hub: FakeHub
let agent: Agent

async function get (url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<Answer> {
  const res = await request(url, { method, headers, dispatcher: agent })
  const body = Buffer.from(await res.body.arrayBuffer())
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return { status: res.statusCode, headers: flat, body }
}

async function location (repo: string, path: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await get(`${hub.hubUrl}/${repo}/resolve/main/${path}`, headers, 'HEAD')
  assert.equal(res.status, 302)
  assert.ok(res.headers.location !== undefined)
  return res.headers.location
}

/**
 * The CDN counts bytes as they leave, in callbacks that may run after the client has its last
 * byte: wait until it has counted `expected`, then it must be exactly that.
 */
async function assertCdnServed (expected: number): Promise<void> {
  await waitFor(`the CDN to count ${expected} bytes`, () => hub.cdn.bytesServed >= expected, 5000)
  assert.equal(hub.cdn.bytesServed, expected)
}

async function readSlice (path: string, start: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, start)
    return buffer
  } finally {
    await handle.close()
  }
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

describe('fake hub', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'damselfly-fake-hub-test-'))
    agent = new Agent()
    hub = await startFakeHub({
      fixtureDir: dir,
      repos: [
        { id: MODEL_REPO, files: [{ path: MODEL_FILE, size: MODEL_SIZE }, { path: 'config.json', size: 300 }] },
        { id: PRIVATE_REPO, private: true, token: TOKEN, files: [{ path: 'weights.bin', size: 2 * MiB }] },
        { id: DATASET_REPO, type: 'dataset', files: [{ path: 'data/train.bin', size: 3 * MiB }] }
      ]
    })
  })

  after(async () => {
    await hub.close()
    await agent.close()
    await rm(dir, { recursive: true, force: true })
  })

  beforeEach(() => {
    hub.setFaults({})
    hub.setBandwidth({})
    hub.resetStats()
  })

  it('describes a repo at main and at its commit sha', async () => {
    const model = hub.file(MODEL_REPO, MODEL_FILE)
    const res = await get(`${hub.hubUrl}/api/models/${MODEL_REPO}/revision/main`)
    assert.equal(res.status, 200)
    const info = JSON.parse(res.body.toString()) as { id: string, sha: string, private: boolean, siblings: Array<{ rfilename: string, size: number, lfs?: { sha256: string, size: number } }> }
    assert.equal(info.id, MODEL_REPO)
    assert.match(info.sha, /^[0-9a-f]{40}$/)
    assert.equal(info.private, false)
    const siblings = new Map(info.siblings.map(sibling => [sibling.rfilename, sibling]))
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${model.sha256}\nsize ${MODEL_SIZE}\n`
    assert.deepEqual(siblings.get(MODEL_FILE)?.lfs, { sha256: model.sha256, size: MODEL_SIZE, pointerSize: pointer.length })
    assert.equal(siblings.get(MODEL_FILE)?.size, MODEL_SIZE)
    assert.equal(siblings.get('config.json')?.size, 300)
    assert.equal(siblings.get('config.json')?.lfs, undefined)

    const bySha = await get(`${hub.hubUrl}/api/models/${MODEL_REPO}/revision/${info.sha}`)
    assert.equal(bySha.status, 200)
    assert.equal((JSON.parse(bySha.body.toString()) as { sha: string }).sha, info.sha)
  })

  it('answers 404 RepoNotFound for an unknown repo and RevisionNotFound for an unknown revision', async () => {
    const repo = await get(`${hub.hubUrl}/api/models/acme/nope/revision/main`)
    assert.equal(repo.status, 404)
    assert.equal(repo.headers['x-error-code'], 'RepoNotFound')
    assert.ok(repo.headers['x-error-message'] !== undefined)
    const rev = await get(`${hub.hubUrl}/api/models/${MODEL_REPO}/revision/${'0'.repeat(40)}`)
    assert.equal(rev.status, 404)
    assert.equal(rev.headers['x-error-code'], 'RevisionNotFound')
  })

  it('redirects an LFS file to a fresh signed CDN URL with the linked headers', async () => {
    const model = hub.file(MODEL_REPO, MODEL_FILE)
    const res = await get(`${hub.hubUrl}/${MODEL_REPO}/resolve/main/${MODEL_FILE}`, {}, 'HEAD')
    assert.equal(res.status, 302)
    assert.equal(res.headers['x-linked-etag'], `"${model.sha256}"`)
    assert.equal(res.headers.etag, `"${model.sha256}"`)
    assert.equal(res.headers['x-linked-size'], String(MODEL_SIZE))
    assert.match(res.headers['x-repo-commit'] ?? '', /^[0-9a-f]{40}$/)
    assert.equal(res.headers['content-length'], '0')
    const url = new URL(res.headers.location ?? '')
    assert.equal(url.origin, hub.cdnUrl)
    assert.notEqual(url.origin, hub.hubUrl)
    assert.equal(url.pathname, model.cdnPath)
    assert.match(url.pathname, /^\/repos\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\/[0-9a-f]{64}$/)
    for (const name of ['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'response-content-disposition']) {
      assert.ok(url.searchParams.has(name), name)
    }
    assert.notEqual(await location(MODEL_REPO, MODEL_FILE), await location(MODEL_REPO, MODEL_FILE))
    assert.equal(hub.hubRequests, 3)
  })

  it('serves an LFS file from the CDN with the bytes the Hub announced', async () => {
    const hubHead = await get(`${hub.hubUrl}/${MODEL_REPO}/resolve/main/${MODEL_FILE}`, {}, 'HEAD')
    const res = await get(hubHead.headers.location ?? '')
    assert.equal(res.status, 200)
    assert.equal(res.body.length, MODEL_SIZE)
    assert.equal(`"${sha256(res.body)}"`, hubHead.headers['x-linked-etag'])
    assert.equal(res.headers['content-length'], String(MODEL_SIZE))
    assert.equal(res.headers['accept-ranges'], 'bytes')
    assert.equal(res.headers['content-disposition'], `attachment; filename="${MODEL_FILE}"`)
    assert.ok(res.headers.etag !== undefined && res.headers['last-modified'] !== undefined)
    await assertCdnServed(MODEL_SIZE)
    assert.equal(hub.cdn.bytesByOid[hub.file(MODEL_REPO, MODEL_FILE).sha256], MODEL_SIZE)
    assert.equal(hub.cdn.requests, 1)
    assert.deepEqual(hub.cdn.statusCounts, { 200: 1 })
  })

  it('serves single byte ranges, suffix ranges and 416, and ignores multi-ranges', async () => {
    const model = hub.file(MODEL_REPO, MODEL_FILE)
    const url = hub.signedUrl(MODEL_REPO, MODEL_FILE)

    const middle = await get(url, { Range: 'bytes=1000-1999999' })
    assert.equal(middle.status, 206)
    assert.equal(middle.headers['content-range'], `bytes 1000-1999999/${MODEL_SIZE}`)
    assert.ok(middle.body.equals(await readSlice(model.localPath, 1000, 1999000)))

    const open = await get(url, { Range: `bytes=${MODEL_SIZE - 10}-` })
    assert.equal(open.status, 206)
    assert.equal(open.body.length, 10)

    const suffix = await get(url, { Range: 'bytes=-4096' })
    assert.equal(suffix.status, 206)
    assert.equal(suffix.headers['content-range'], `bytes ${MODEL_SIZE - 4096}-${MODEL_SIZE - 1}/${MODEL_SIZE}`)
    assert.ok(suffix.body.equals(await readSlice(model.localPath, MODEL_SIZE - 4096, 4096)))

    const beyond = await get(url, { Range: `bytes=${MODEL_SIZE}-` })
    assert.equal(beyond.status, 416)
    assert.equal(beyond.headers['content-range'], `bytes */${MODEL_SIZE}`)

    const multi = await get(url, { Range: 'bytes=0-1,5-6' })
    assert.equal(multi.status, 200)
    assert.equal(multi.body.length, MODEL_SIZE)

    assert.equal(hub.cdn.rangeRequests, 3)
    assert.equal(hub.cdn.statusCounts[416], 1)
  })

  it('answers HEAD on the CDN with the headers and no body', async () => {
    const res = await get(hub.signedUrl(MODEL_REPO, MODEL_FILE), {}, 'HEAD')
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-length'], String(MODEL_SIZE))
    assert.equal(res.body.length, 0)
  })

  it('serves a git file from the Hub with its git blob sha1 as ETag, and 404 for a missing one', async () => {
    const res = await get(`${hub.hubUrl}/${MODEL_REPO}/resolve/main/config.json`)
    assert.equal(res.status, 200)
    assert.equal(res.body.length, 300)
    const blobSha1 = createHash('sha1').update(`blob ${res.body.length}\0`).update(res.body).digest('hex')
    assert.equal(res.headers.etag, `"${blobSha1}"`)
    assert.equal(hub.file(MODEL_REPO, 'config.json').gitSha1, blobSha1)
    assert.match(res.headers['x-repo-commit'] ?? '', /^[0-9a-f]{40}$/)

    const part = await get(`${hub.hubUrl}/${MODEL_REPO}/resolve/main/config.json`, { Range: 'bytes=10-19' })
    assert.equal(part.status, 206)
    assert.ok(part.body.equals(res.body.subarray(10, 20)))

    const missing = await get(`${hub.hubUrl}/${MODEL_REPO}/resolve/main/nope.json`, {}, 'HEAD')
    assert.equal(missing.status, 404)
    assert.equal(missing.headers['x-error-code'], 'EntryNotFound')
  })

  it('refuses a tampered or expired signature with 403 and an XML error', async () => {
    const url = new URL(hub.signedUrl(MODEL_REPO, MODEL_FILE))
    const signature = url.searchParams.get('Signature') ?? ''
    url.searchParams.set('Signature', `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`)
    const tampered = await get(url.toString())
    assert.equal(tampered.status, 403)
    assert.equal(tampered.headers['content-type'], 'application/xml')
    assert.match(tampered.body.toString(), /<Code>AccessDenied<\/Code>/)

    const expired = await get(hub.signedUrl(MODEL_REPO, MODEL_FILE, { expiresInSeconds: -10 }))
    assert.equal(expired.status, 403)
    assert.match(expired.body.toString(), /AccessDenied/)
    assert.equal(hub.cdn.bytesServed, 0)
  })

  it('hides a private repo without its token and serves it with', async () => {
    const anonymous = await get(`${hub.hubUrl}/${PRIVATE_REPO}/resolve/main/weights.bin`, {}, 'HEAD')
    assert.equal(anonymous.status, 401)
    assert.equal(anonymous.headers['x-error-code'], 'RepoNotFound')
    const wrong = await get(`${hub.hubUrl}/api/models/${PRIVATE_REPO}`, { Authorization: 'Bearer hf_wrong' })
    assert.equal(wrong.status, 401)
    await location(PRIVATE_REPO, 'weights.bin', { Authorization: `Bearer ${TOKEN}` })
  })

  it('resolves dataset files under /datasets and lists them in the tree API', async () => {
    const url = await location(`datasets/${DATASET_REPO}`, 'data/train.bin')
    assert.equal(new URL(url).pathname, hub.file(`datasets/${DATASET_REPO}`, 'data/train.bin').cdnPath)
    const tree = await get(`${hub.hubUrl}/api/datasets/${DATASET_REPO}/tree/main?recursive=true`)
    assert.deepEqual((JSON.parse(tree.body.toString()) as Array<{ type: string, path: string }>).map(e => [e.type, e.path]), [
      ['directory', 'data'],
      ['file', 'data/train.bin']
    ])
  })

  it('caps CDN bandwidth, set at runtime', async () => {
    hub.setBandwidth({ total: 8 * MiB })
    const started = performance.now()
    const res = await get(hub.signedUrl(MODEL_REPO, MODEL_FILE), { Range: `bytes=0-${4 * MiB - 1}` })
    const seconds = (performance.now() - started) / 1000
    assert.equal(res.body.length, 4 * MiB)
    assert.ok(seconds >= 0.4, `took ${seconds}s`)
    assert.ok(seconds < 2, `took ${seconds}s`)

    hub.setBandwidth({ perConnection: 16 * MiB })
    const perConnection = performance.now()
    await get(hub.signedUrl(MODEL_REPO, MODEL_FILE), { Range: `bytes=0-${4 * MiB - 1}` })
    assert.ok((performance.now() - perConnection) / 1000 >= 0.2)
  })

  it('resets the connection after resetAfterBytes and counts only what left', async () => {
    hub.setFaults({ resetAfterBytes: MiB })
    await assert.rejects(get(hub.signedUrl(MODEL_REPO, MODEL_FILE)))
    await assertCdnServed(MiB)
    assert.ok(hub.cdn.bytesServed < MODEL_SIZE)
  })

  it('resets every Nth request about half way', async () => {
    hub.setFaults({ resetEveryNthRequest: 2 })
    const url = hub.signedUrl(MODEL_REPO, MODEL_FILE)
    assert.equal((await get(url)).body.length, MODEL_SIZE)
    await assert.rejects(get(url))
    assert.equal((await get(url)).body.length, MODEL_SIZE)
    await assertCdnServed(2 * MODEL_SIZE + MODEL_SIZE / 2)
  })

  it('fails the next requests with the given status, then recovers', async () => {
    hub.setFaults({ failNextRequests: { count: 1, status: 503 } })
    const url = hub.signedUrl(MODEL_REPO, MODEL_FILE)
    assert.equal((await get(url, { Range: 'bytes=0-0' })).status, 503)
    assert.equal((await get(url, { Range: 'bytes=0-0' })).status, 206)

    hub.setFaults({ failNextRequests: { count: 1, status: 500, server: 'hub' } })
    assert.equal((await get(`${hub.hubUrl}/api/models/${MODEL_REPO}`)).status, 500)
    assert.equal((await get(`${hub.hubUrl}/api/models/${MODEL_REPO}`)).status, 200)
  })

  it('flips one byte of what it serves with corruptByteAt, in whole bodies and ranges', async () => {
    hub.setFaults({ corruptByteAt: 3 * MiB + 5 })
    const file = hub.file(MODEL_REPO, MODEL_FILE)
    const url = hub.signedUrl(MODEL_REPO, MODEL_FILE)
    const whole = await get(url)
    assert.equal(whole.body.length, MODEL_SIZE)
    assert.notEqual(sha256(whole.body), file.sha256)
    const original = await readSlice(file.localPath, 3 * MiB, 16)
    assert.equal(whole.body[3 * MiB + 5], (original[5] ?? 0) ^ 0xff)
    const range = await get(url, { Range: `bytes=${3 * MiB}-${3 * MiB + 15}` })
    assert.equal(range.body[5], (original[5] ?? 0) ^ 0xff)
    assert.deepEqual(range.body.subarray(0, 5), original.subarray(0, 5))
    assert.deepEqual((await get(url, { Range: 'bytes=0-99' })).body, await readSlice(file.localPath, 0, 100))
  })

  it('is downloadable by @huggingface/hub', async () => {
    const blob = await downloadFile({ repo: MODEL_REPO, path: MODEL_FILE, hubUrl: hub.hubUrl, xet: false })
    assert.ok(blob !== null)
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), hub.file(MODEL_REPO, MODEL_FILE).sha256)
  })

  it('reuses generated content on the next start', async () => {
    const before = hub.file(MODEL_REPO, MODEL_FILE)
    const mtime = (await stat(before.localPath)).mtimeMs
    const again = await startFakeHub({ fixtureDir: dir, repos: [{ id: MODEL_REPO, files: [{ path: MODEL_FILE, size: MODEL_SIZE }] }] })
    try {
      const after = again.file(MODEL_REPO, MODEL_FILE)
      assert.equal(after.localPath, before.localPath)
      assert.equal(after.sha256, before.sha256)
      assert.equal((await stat(after.localPath)).mtimeMs, mtime)
    } finally {
      await again.close()
    }
  })
})
