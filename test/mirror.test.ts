import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { downloadFile } from '@huggingface/hub'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

async function sha256Of (blob: Blob): Promise<{ sha256: string, size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of blob.stream() as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk)
    size += chunk.length
  }
  return { sha256: hash.digest('hex'), size }
}

describe('mirror mode (HF_ENDPOINT pointed at the node)', () => {
  let hub: FakeHub
  let first: NodeProcess
  let second: NodeProcess

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/mirrored', files: [{ path: 'model.safetensors', size: 48 * MiB + 5 }, { path: 'config.json', size: 700 }] }] })
    first = await spawnNode(['--role', 'seed', '--registry', hub.hubUrl])
    second = await spawnNode(['--registry', hub.hubUrl, '--bootstrap', first.info.multiaddrs[0]!])
    await waitFor('the second node to join', async () => (await nodeStatus(second.info.admin)).peers.includes(first.info.peerId))
  })

  after(async () => {
    await Promise.all([first.stop(), second.stop()])
    await hub.close()
  })

  it('@huggingface/hub with hubUrl at the node: byte-exact, and a second node gets it with no CDN bytes', async () => {
    const file = hub.file('acme/mirrored', 'model.safetensors')
    hub.resetStats()
    const blob = await downloadFile({ repo: 'acme/mirrored', path: 'model.safetensors', hubUrl: first.proxyUrl, xet: false })
    assert.ok(blob !== null)
    assert.deepEqual(await sha256Of(blob), { sha256: file.sha256, size: file.size })
    assert.ok(hub.cdn.bytesServed <= file.size * 1.05, `CDN served ${hub.cdn.bytesServed}`)
    const served = hub.cdn.bytesServed
    const again = await downloadFile({ repo: 'acme/mirrored', path: 'model.safetensors', hubUrl: second.proxyUrl, xet: false })
    assert.ok(again !== null)
    assert.deepEqual(await sha256Of(again), { sha256: file.sha256, size: file.size })
    assert.equal(hub.cdn.bytesServed, served, 'the second node took the file from the first')
  })

  it('keeps the Hub headers on LFS files and passes small files through', { skip: skipUnless('curl') }, async () => {
    const file = hub.file('acme/mirrored', 'model.safetensors')
    const lfs = await curl(`${first.proxyUrl}/acme/mirrored/resolve/main/model.safetensors`, { headers: { Range: 'bytes=0-0' } })
    assert.equal(lfs.status, 206)
    assert.equal(lfs.headers['x-linked-etag'], `"${file.sha256}"`)
    assert.equal(lfs.headers['x-linked-size'], String(file.size))
    assert.match(lfs.headers['x-repo-commit'] ?? '', /^[0-9a-f]{40}$/)
    assert.equal(lfs.headers['content-range'], `bytes 0-0/${file.size}`)
    const small = hub.file('acme/mirrored', 'config.json')
    const config = await curl(`${first.proxyUrl}/acme/mirrored/resolve/main/config.json`)
    assert.equal(config.status, 200)
    assert.equal(config.sha256, small.sha256)
    const missing = await curl(`${first.proxyUrl}/acme/mirrored/resolve/main/nope.bin`)
    assert.equal(missing.status, 404)
    assert.equal(missing.headers['x-error-code'], 'EntryNotFound')
  })
})
