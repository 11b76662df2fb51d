import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl, fetchThroughProxy } from './helpers/clients.js'
import { startNode, type RunningNode } from './helpers/nodes.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

describe('a single node as a caching download proxy', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let node: RunningNode

  before(async () => {
    hub = await startFakeHub({
      repos: [{
        id: 'acme/big-model',
        files: [
          { path: 'model.safetensors', size: 256 * MiB },
          { path: 'shard-2.safetensors', size: 96 * MiB + 12345 }
        ]
      }]
    })
    node = await startNode()
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  it('downloads a 256 MiB LFS file byte-exact through curl, then serves it from disk', async () => {
    const file = hub.file('acme/big-model', 'model.safetensors')
    hub.resetStats()
    const cold = await curl(hub.signedUrl('acme/big-model', 'model.safetensors'), { proxy: node.proxyUrl })
    assert.equal(cold.error, undefined)
    assert.equal(cold.status, 200)
    assert.equal(cold.bytes, file.size)
    assert.equal(cold.sha256, file.sha256)
    assert.match(cold.headers['x-dragonfly-task-id'] ?? '', /^[0-9a-f]{64}$/)
    assert.equal(cold.headers['x-dragonfly-task-download-finished'], undefined)
    assert.ok(hub.cdn.bytesServed >= file.size && hub.cdn.bytesServed <= file.size * 1.01, `CDN served ${hub.cdn.bytesServed}`)

    const servedBefore = hub.cdn.bytesServed
    // A fresh signature: the same file must still be the same task.
    const hit = await curl(hub.signedUrl('acme/big-model', 'model.safetensors'), { proxy: node.proxyUrl })
    assert.equal(hit.status, 200)
    assert.equal(hit.sha256, file.sha256)
    assert.equal(hit.headers['x-dragonfly-task-download-finished'], 'true')
    assert.equal(hit.headers['x-dragonfly-task-id'], cold.headers['x-dragonfly-task-id'])
    assert.equal(hub.cdn.bytesServed, servedBefore, 'the hit must not touch the CDN')
  })

  it('serves 8 simultaneous clients of an uncached file with one origin download', async () => {
    const file = hub.file('acme/big-model', 'shard-2.safetensors')
    hub.resetStats()
    const results = await Promise.all(Array.from({ length: 8 }, async (_, client) => {
      const url = hub.signedUrl('acme/big-model', 'shard-2.safetensors')
      return client % 2 === 0 ? await curl(url, { proxy: node.proxyUrl }) : await fetchThroughProxy(url, { proxy: node.proxyUrl })
    }))
    for (const result of results) {
      assert.equal(result.error, undefined)
      assert.equal(result.status, 200)
      assert.equal(result.sha256, file.sha256)
    }
    assert.ok(hub.cdn.bytesServed <= file.size * 1.02, `CDN served ${hub.cdn.bytesServed} bytes for a ${file.size}-byte file`)
  })
})
