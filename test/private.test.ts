import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { startNode, tempDir, type RunningNode } from './helpers/nodes.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024
const token = 'hf_private_token'

describe('a private file cached by one client', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let node: RunningNode
  let dataDir: string

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/secret', private: true, token, files: [{ path: 'weights.bin', size: 8 * MiB + 1 }, { path: 'second.bin', size: 6 * MiB }] }] })
    dataDir = await tempDir()
    node = await startNode(['--registry', hub.hubUrl], dataDir)
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  const resolveUrl = (): string => `${node.proxyUrl}/acme/secret/resolve/main/weights.bin`

  it('is fetched by client A with a token and recorded as private', async () => {
    const file = hub.file('acme/secret', 'weights.bin')
    const a = await curl(resolveUrl(), { headers: { Authorization: `Bearer ${token}` } })
    assert.equal(a.status, 200)
    assert.equal(a.sha256, file.sha256)
    const id = createHash('sha256').update(`sha256:${file.sha256}`).digest('hex')
    const meta = JSON.parse(await readFile(join(dataDir, 'tasks', id, 'meta.json'), 'utf8')) as { private?: boolean }
    assert.equal(meta.private, true)
  })

  it('is refused to client B without a token, on the mirror path and the proxy path', async () => {
    const file = hub.file('acme/secret', 'weights.bin')
    hub.resetStats()
    const mirror = await curl(resolveUrl())
    assert.equal(mirror.status, 401)
    assert.notEqual(mirror.sha256, file.sha256)
    // Proxy path: the Hub resolve goes through the node to the Hub, which refuses.
    const resolve = await curl(`${hub.hubUrl}/acme/secret/resolve/main/weights.bin`, { proxy: node.proxyUrl })
    assert.equal(resolve.status, 401)
    // Proxy path: a CDN URL built from the oid alone, or an expired one, names the cached task;
    // the origin refuses this client's own request, and so does the node.
    const unsigned = await curl(`${hub.cdnUrl}${file.cdnPath}`, { proxy: node.proxyUrl, keepBody: true })
    assert.equal(unsigned.status, 403)
    assert.match(unsigned.body?.toString() ?? '', /AccessDenied/)
    assert.equal(unsigned.headers['x-dragonfly-error-type'], 'backend')
    const expired = await curl(hub.signedUrl('acme/secret', 'weights.bin', { expiresInSeconds: -60 }), { proxy: node.proxyUrl })
    assert.equal(expired.status, 403)
    assert.notEqual(expired.sha256, file.sha256)
    assert.equal(hub.cdn.bytesServed, 0)
  })

  it('is served from the cache to client C whose token the origin accepts', async () => {
    const file = hub.file('acme/secret', 'weights.bin')
    hub.resetStats()
    const mirror = await curl(resolveUrl(), { headers: { Authorization: `Bearer ${token}` } })
    assert.equal(mirror.status, 200)
    assert.equal(mirror.sha256, file.sha256)
    assert.equal(mirror.headers['x-dragonfly-task-download-finished'], 'true')
    assert.equal(hub.cdn.requests, 0, 'the Hub checked the token; the CDN saw nothing')
    // Proxy path: a signed URL the Hub gave C is C's credential; checking it costs one byte.
    const proxied = await curl(hub.signedUrl('acme/secret', 'weights.bin'), { proxy: node.proxyUrl })
    assert.equal(proxied.sha256, file.sha256)
    assert.equal(proxied.headers['x-dragonfly-task-download-finished'], 'true')
    assert.ok(hub.cdn.bytesServed <= 1, `the CDN served ${hub.cdn.bytesServed} bytes`)
  })

  it('is private too when only the Hub resolve carried the token (proxy path, as huggingface_hub does)', async () => {
    const file = hub.file('acme/secret', 'second.bin')
    // The resolve goes through the node to the Hub with the token; the redirect is followed
    // without it, as clients drop credentials when the host changes.
    const resolved = await curl(`${hub.hubUrl}/acme/secret/resolve/main/second.bin`, { proxy: node.proxyUrl, headers: { Authorization: `Bearer ${token}` } })
    assert.equal(resolved.status, 302)
    const a = await curl(resolved.headers.location ?? '', { proxy: node.proxyUrl })
    assert.equal(a.sha256, file.sha256)
    const stranger = await curl(`${hub.cdnUrl}${file.cdnPath}`, { proxy: node.proxyUrl })
    assert.equal(stranger.status, 403)
    assert.notEqual(stranger.sha256, file.sha256)
  })

  it('stays private across a restart', async () => {
    const file = hub.file('acme/secret', 'weights.bin')
    await node.stop()
    node = await startNode(['--registry', hub.hubUrl], dataDir)
    const unsigned = await curl(`${hub.cdnUrl}${file.cdnPath}`, { proxy: node.proxyUrl })
    assert.equal(unsigned.status, 403)
    const mirror = await curl(resolveUrl())
    assert.equal(mirror.status, 401)
    assert.equal((await fetch(`http://${node.info.admin}/healthy`)).status, 200)
  })
})
