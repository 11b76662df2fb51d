import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { startFakeHub, type FakeHub, type FakeFileInfo } from './fixtures/fake-hub/index.js'
import { curl, fetchThroughProxy } from './helpers/clients.js'
import { startNode, type RunningNode } from './helpers/nodes.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

async function expectedSlice (file: FakeFileInfo, start: number, end: number): Promise<string> {
  const handle = await open(file.localPath, 'r')
  try {
    const buffer = Buffer.alloc(end - start + 1)
    await handle.read(buffer, 0, buffer.length, start)
    return createHash('sha256').update(buffer).digest('hex')
  } finally {
    await handle.close()
  }
}

describe('Range requests and HEAD through the node', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let node: RunningNode

  before(async () => {
    hub = await startFakeHub({
      repos: [{ id: 'acme/ranges', files: [{ path: 'cached.bin', size: 40 * MiB + 7 }, { path: 'slow.bin', size: 48 * MiB }] }]
    })
    node = await startNode()
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  async function checkRanges (path: string): Promise<void> {
    const file = hub.file('acme/ranges', path)
    const size = file.size
    const cases: Array<{ header: string, start: number, end: number }> = [
      { header: 'bytes=0-99', start: 0, end: 99 },
      { header: `bytes=${20 * MiB - 10}-${20 * MiB + 4 * MiB}`, start: 20 * MiB - 10, end: 24 * MiB },
      { header: 'bytes=-1000', start: size - 1000, end: size - 1 },
      { header: `bytes=${size - 10}-`, start: size - 10, end: size - 1 },
      { header: `bytes=${size - 5}-${size + 100}`, start: size - 5, end: size - 1 }
    ]
    await Promise.all(cases.map(async ({ header, start, end }) => {
      const result = await curl(hub.signedUrl('acme/ranges', path), { proxy: node.proxyUrl, headers: { Range: header } })
      assert.equal(result.status, 206, header)
      assert.equal(result.headers['content-range'], `bytes ${start}-${end}/${size}`, header)
      assert.equal(result.bytes, end - start + 1, header)
      assert.equal(result.sha256, await expectedSlice(file, start, end), header)
    }))
    const past = await fetchThroughProxy(hub.signedUrl('acme/ranges', path), { proxy: node.proxyUrl, headers: { Range: `bytes=${size}-` } })
    assert.equal(past.status, 416)
    assert.equal(past.headers['content-range'], `bytes */${size}`)
    assert.ok(past.headers['x-dragonfly-error-type'])
  }

  it('answers single, suffix, open-ended and unsatisfiable ranges on a cached task', async () => {
    const file = hub.file('acme/ranges', 'cached.bin')
    const whole = await curl(hub.signedUrl('acme/ranges', 'cached.bin'), { proxy: node.proxyUrl })
    assert.equal(whole.sha256, file.sha256)
    const served = hub.cdn.bytesServed
    await checkRanges('cached.bin')
    assert.equal(hub.cdn.bytesServed, served, 'ranges of a cached task must come from disk')
  })

  it('answers ranges while the task is still downloading', async () => {
    hub.setBandwidth({ total: 24 * MiB })
    hub.resetStats()
    try {
      const file = hub.file('acme/ranges', 'slow.bin')
      const whole = curl(hub.signedUrl('acme/ranges', 'slow.bin'), { proxy: node.proxyUrl })
      await checkRanges('slow.bin')
      const done = await whole
      assert.equal(done.sha256, file.sha256)
      assert.equal(done.headers['x-dragonfly-task-download-finished'], undefined)
      assert.ok(hub.cdn.bytesServed <= file.size * 1.05, `CDN served ${hub.cdn.bytesServed} for ${file.size}`)
    } finally {
      hub.setBandwidth({})
    }
  })

  it('honours If-Range: the validator that matches gets the range, another gets the whole file', async () => {
    const file = hub.file('acme/ranges', 'cached.bin')
    const whole = await curl(hub.signedUrl('acme/ranges', 'cached.bin'), { proxy: node.proxyUrl })
    const etag = whole.headers.etag
    assert.ok(etag !== undefined)
    const matching = await curl(hub.signedUrl('acme/ranges', 'cached.bin'), { proxy: node.proxyUrl, headers: { Range: 'bytes=0-9', 'If-Range': etag } })
    assert.equal(matching.status, 206)
    assert.equal(matching.bytes, 10)
    const stale = await curl(hub.signedUrl('acme/ranges', 'cached.bin'), { proxy: node.proxyUrl, headers: { Range: 'bytes=0-9', 'If-Range': '"some-older-version"' } })
    assert.equal(stale.status, 200)
    assert.equal(stale.sha256, file.sha256)
  })

  it('passes HEAD to the Hub with its headers intact', async () => {
    const file = hub.file('acme/ranges', 'cached.bin')
    const head = await curl(`${hub.hubUrl}/acme/ranges/resolve/main/cached.bin`, { proxy: node.proxyUrl, method: 'HEAD' })
    assert.equal(head.status, 302)
    assert.equal(head.headers['x-linked-etag'], `"${file.sha256}"`)
    assert.equal(head.headers['x-linked-size'], String(file.size))
    assert.match(head.headers['x-repo-commit'] ?? '', /^[0-9a-f]{40}$/)
    assert.match(head.headers.location ?? '', /\/repos\/.*Signature=/)
  })
})
