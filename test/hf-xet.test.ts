/**
 * huggingface_hub 1.x with hf_xet against a Hub that is on Xet (the fake Hub's `xet` behaviour):
 * its listing steers every LFS file to Xet unless the node takes `xetHash` out. The client is
 * test/clients/hf1_snapshot.py (httpx), which makes the 1.x decision file by file.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { request } from 'undici'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { spawnNode, tempDir, type NodeProcess } from './helpers/nodes.js'
import { runPythonClient } from './helpers/python.js'
import { skipUnless } from './helpers/system-tools.js'
import { nodeStatus } from './helpers/status.js'
import { makeTlsIdentity } from './helpers/tls.js'
import { waitFor } from './helpers/wait.js'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { repoRoot } from './helpers/repo-root.js'

const MiB = 1024 * 1024
const REPO = 'acme/xet-llm'
const FILES = [
  { path: 'model-00001-of-00002.safetensors', size: 9 * MiB + 3 },
  { path: 'model-00002-of-00002.safetensors', size: 6 * MiB },
  { path: 'tokenizer/tokenizer.model', size: 2 * MiB + 5 },
  { path: 'config.json', size: 900 },
  { path: 'tokenizer/vocab.json', size: 40_000 }
]
/** Until the lead's shared skip helper lands: the check is inline. */
const noHttpx = skipUnless('python3+httpx')

/** What test/clients/hf1_snapshot.py prints. */
interface SnapshotResult {
  commit: string
  pages: number
  listing_has_xet_hash: boolean
  files: Array<{ path: string, via: 'xet' | 'http', head_status?: number, get_status?: number, received?: number, sha256?: string, token_status?: number }>
}

/** Runs the client; `proxy` goes in both spellings (Python's lowercase one wins, even empty). */
async function snapshot (mode: 'endpoint' | 'proxy', endpoint: string, proxy = '', env: Record<string, string> = {}): Promise<SnapshotResult> {
  const proxies = { HTTP_PROXY: '', http_proxy: '', NO_PROXY: '', no_proxy: '', HTTPS_PROXY: proxy, https_proxy: proxy }
  return await runPythonClient<SnapshotResult>('hf1_snapshot.py', [mode, endpoint, REPO], { ...proxies, ...env }, 'python3+httpx')
}

async function getJson (url: string, init: { method?: 'GET' | 'POST', body?: string, headers?: Record<string, string> } = {}): Promise<{ text: string, headers: Record<string, unknown> }> {
  const answer = await request(url, { method: init.method ?? 'GET', body: init.body, headers: init.headers })
  assert.equal(answer.statusCode, 200, url)
  return { text: await answer.body.text(), headers: answer.headers }
}

/** Every file of the snapshot came over HTTP, byte-exact, and none through Xet. */
function assertByteExact (hub: FakeHub, result: SnapshotResult): void {
  assert.equal(result.listing_has_xet_hash, false, 'the listing reached the client without xetHash')
  assert.deepEqual(result.files.map(file => file.path).sort(), FILES.map(file => file.path).sort())
  for (const file of result.files) {
    const expected = hub.file(REPO, file.path)
    assert.equal(file.via, 'http', `${file.path} went to Xet`)
    assert.deepEqual([file.get_status, file.received, file.sha256], [200, expected.size, expected.sha256], file.path)
  }
}

/** The CDN served each LFS file once (the probe's `Range: bytes=0-0` aside). */
function assertCdnServedEachOnce (hub: FakeHub): void {
  for (const spec of FILES) {
    const file = hub.file(REPO, spec.path)
    if (!file.lfs) continue
    const served = hub.cdn.bytesByOid[file.sha256] ?? 0
    assert.ok(served >= file.size && served <= file.size + 1, `the CDN served ${served} bytes of ${spec.path} (${file.size})`)
  }
}

describe('huggingface_hub 1.x (hf_xet installed) with HF_ENDPOINT at the node, against a Hub on Xet', { skip: noHttpx }, () => {
  let hub: FakeHub
  let first: NodeProcess
  let second: NodeProcess

  before(async () => {
    hub = await startFakeHub({
      hubBehaviour: { xet: true, resolveCacheRedirects: true, treePageSize: 3 },
      // A repo whose API paths match the default rule `/repos/`: still a listing, not content.
      repos: [{ id: REPO, files: FILES }, { id: 'acme/repos', files: [{ path: 'w.bin', size: MiB }] }]
    })
    first = await spawnNode(['--role', 'seed', '--registry', hub.hubUrl, '--log-level', 'info'])
    second = await spawnNode(['--registry', hub.hubUrl, '--bootstrap', first.info.multiaddrs[0]!])
    await waitFor('the second node to join', async () => (await nodeStatus(second.info.admin)).peers.includes(first.info.peerId))
  })

  after(async () => {
    await Promise.all([first?.stop(), second?.stop()])
    await hub?.close()
  })

  it('the fake Hub steers the client to Xet on its own: the test client can tell', async () => {
    const direct = await snapshot('endpoint', hub.hubUrl)
    assert.equal(direct.listing_has_xet_hash, true)
    assert.ok(direct.pages > 1, 'the listing is paginated')
    const lfs = FILES.filter(spec => hub.file(REPO, spec.path).lfs).map(spec => spec.path).sort()
    assert.deepEqual(direct.files.filter(file => file.via === 'xet').map(file => file.path).sort(), lfs)
    assert.equal(direct.files.find(file => file.via === 'xet')?.head_status, undefined, 'the HEAD was skipped')
    assert.equal(hub.xetTokenRequests, lfs.length)
    const resolve = await request(`${hub.hubUrl}/${REPO}/resolve/main/${lfs[0]!}`, { method: 'HEAD' })
    assert.match(String(resolve.headers['x-xet-hash']), /^[0-9a-f]{64}$/)
    assert.match(String(resolve.headers.link), /xet-read-token.*rel="xet-auth"/)
  })

  it('through the node: listings without xetHash, the snapshot byte-exact over HTTP, no Xet token, the CDN serves each LFS file once', async () => {
    hub.resetStats()
    const result = await snapshot('endpoint', first.proxyUrl)
    assert.ok(result.pages > 1, 'every page of the listing came through the node')
    assertByteExact(hub, result)
    assert.equal(hub.xetTokenRequests, 0)
    assertCdnServedEachOnce(hub)
  })

  it('a second node serves the same snapshot with the CDN serving 0 bytes', async () => {
    hub.resetStats()
    const result = await snapshot('endpoint', second.proxyUrl)
    assertByteExact(hub, result)
    assert.equal(hub.cdn.bytesServed, 0)
    assert.equal(hub.xetTokenRequests, 0)
  })

  it('tree, paths-info and repo info lose xetHash and xetEnabled and keep the rest byte for byte', async () => {
    const commit = (JSON.parse((await getJson(`${hub.hubUrl}/api/models/${REPO}`)).text) as { sha: string }).sha
    const form = { method: 'POST' as const, body: FILES.map(file => `paths=${encodeURIComponent(file.path)}`).join('&'), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
    for (const [path, init] of [
      [`/api/models/${REPO}/tree/${commit}?recursive=true`, {}],
      [`/api/models/${REPO}/tree/main/tokenizer`, {}],
      [`/api/models/${REPO}/paths-info/${commit}`, form],
      [`/api/models/${REPO}`, {}],
      [`/api/models/${REPO}/revision/main`, {}],
      ['/api/models/acme/repos/tree/main', {}]
    ] as const) {
      const upstream = await getJson(hub.hubUrl + path, init)
      const relayed = await getJson(first.proxyUrl + path, init)
      assert.match(upstream.text, /"xet(Hash|Enabled)"/, path)
      const expected = JSON.stringify(JSON.parse(upstream.text, (key, value: unknown) => key === 'xetHash' || key === 'xetEnabled' ? undefined : value))
      assert.equal(relayed.text, expected, path)
      assert.equal(relayed.headers['content-length'], undefined, 'the old length is not sent with a shorter body')
    }
    const page = await getJson(`${first.proxyUrl}/api/models/${REPO}/tree/${commit}?recursive=true`)
    assert.match(String(page.headers.link), new RegExp(`^<${first.proxyUrl}/api/models/${REPO}/tree/${commit}\\?recursive=true&cursor=3>; rel="next"$`))
  })

  it('a client that still goes to Xet (a listing cached before the node): its token request is relayed and logged once per repo', async () => {
    hub.resetStats()
    for (let i = 0; i < 2; i++) {
      const token = await request(`${first.proxyUrl}/api/models/${REPO}/xet-read-token/main`)
      assert.equal(token.statusCode, 200)
      await token.body.dump()
    }
    assert.equal(hub.xetTokenRequests, 2)
    await waitFor('the bypass to be logged', async () => first.stderr().includes('Xet read token'))
    assert.equal(first.stderr().split('\n').filter(line => line.includes('Xet read token') && line.includes(REPO)).length, 1)
  })
})

describe('huggingface_hub 1.x on httpx through HTTPS_PROXY, the node intercepting the Hub and its CDN', { skip: noHttpx }, () => {
  let folder: string
  let hub: FakeHub
  let node: NodeProcess
  let nodeCa: string

  before(async () => {
    folder = await tempDir('damselfly-hf-xet-https-')
    const hubTls = await makeTlsIdentity(folder, 'fake hub CA', ['127.0.0.1', 'localhost'])
    hub = await startFakeHub({ hubBehaviour: { xet: true, treePageSize: 3 }, repos: [{ id: REPO, files: FILES }], tls: { key: hubTls.key, cert: hubTls.cert } })
    const dataDir = join(folder, 'node')
    await promisify(execFile)(process.execPath, [join(repoRoot(), 'bin', 'damselfly.js'), 'ca', 'init', '--data-dir', dataDir])
    nodeCa = join(dataDir, 'ca', 'ca.crt')
    const intercepted = `127.0.0.1:${new URL(hub.hubUrl).port},127.0.0.1:${new URL(hub.cdnUrl).port}`
    node = await spawnNode(['--intercept-host', intercepted, '--upstream-ca-file', hubTls.caFile], dataDir)
  })

  after(async () => {
    await node?.stop()
    await hub?.close()
    if (folder !== undefined) await rm(folder, { recursive: true, force: true })
  })

  it('byte-exact over HTTP, the CDN serving each file once, no Xet token', async () => {
    hub.resetStats()
    const result = await snapshot('proxy', hub.hubUrl, node.proxyUrl, { SSL_CERT_FILE: nodeCa })
    assert.ok(result.pages > 1)
    assertByteExact(hub, result)
    assert.equal(hub.xetTokenRequests, 0)
    assertCdnServedEachOnce(hub)
  })
})
