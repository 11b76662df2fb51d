import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { downloadFile } from '@huggingface/hub'
import { ProxyAgent, fetch as undiciFetch } from 'undici'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { startNode, tempDir, type RunningNode } from './helpers/nodes.js'
import { runPythonClient } from './helpers/python.js'
import { skipUnless, tool } from './helpers/system-tools.js'

const MiB = 1024 * 1024

describe('real Hugging Face clients through the node', () => {
  let hub: FakeHub
  let node: RunningNode

  before(async () => {
    hub = await startFakeHub({
      repos: [{ id: 'acme/clients', files: [{ path: 'weights.bin', size: 24 * MiB + 99 }, { path: 'other.bin', size: 16 * MiB }, { path: 'split.bin', size: 40 * MiB + 7 }] }]
    })
    node = await startNode()
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  it('@huggingface/hub downloadFile, its fetch sent through the proxy', async () => {
    const file = hub.file('acme/clients', 'weights.bin')
    const dispatcher = new ProxyAgent({ uri: node.proxyUrl, proxyTunnel: false })
    const proxiedFetch = (async (input: string | URL | Request, init?: RequestInit) =>
      await undiciFetch(input as string, { ...(init as object), dispatcher })) as unknown as typeof fetch
    try {
      hub.resetStats()
      const blob = await downloadFile({ repo: 'acme/clients', path: 'weights.bin', hubUrl: hub.hubUrl, fetch: proxiedFetch, xet: false })
      assert.ok(blob !== null)
      const hash = createHash('sha256')
      let size = 0
      for await (const chunk of blob.stream() as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk)
        size += chunk.length
      }
      assert.equal(size, file.size)
      assert.equal(hash.digest('hex'), file.sha256)
      assert.ok(hub.cdn.bytesServed <= file.size * 1.05, `CDN served ${hub.cdn.bytesServed}`)
    } finally {
      await dispatcher.close()
    }
  })

  it('a Python requests session configured as in Dragonfly’s guide', { skip: skipUnless('python3+requests') }, async () => {
    const file = hub.file('acme/clients', 'other.bin')
    const url = `${hub.hubUrl}/acme/clients/resolve/main/other.bin`
    const run = async (): Promise<{ status: number, size: number, sha256: string, history: number[], task_id: string }> =>
      await runPythonClient('requests_download.py', [node.proxyUrl, url])
    hub.resetStats()
    const first = await run()
    assert.deepEqual([first.status, first.size, first.sha256, first.history], [200, file.size, file.sha256, [302]])
    const served = hub.cdn.bytesServed
    const second = await run()
    assert.equal(second.sha256, file.sha256)
    assert.equal(second.task_id, first.task_id)
    assert.equal(hub.cdn.bytesServed, served, 'the second download must be a hit')
  })

  it('aria2c with 8 connections of ranged requests: byte-exact, the file fetched from the origin once', { skip: skipUnless('aria2c') }, async () => {
    const file = hub.file('acme/clients', 'split.bin')
    const dir = await tempDir('damselfly-aria2-')
    hub.resetStats()
    await promisify(execFile)(tool('aria2c'), [
      `--all-proxy=${node.proxyUrl}`, '--split=8', '--max-connection-per-server=8', '--min-split-size=1M',
      '--file-allocation=none', '--console-log-level=warn', '--summary-interval=0', '--dir', dir, '--out', 'split.bin',
      `${hub.hubUrl}/acme/clients/resolve/main/split.bin`
    ], { timeout: 120_000 })
    const hash = createHash('sha256')
    for await (const chunk of createReadStream(join(dir, 'split.bin'))) hash.update(chunk as Buffer)
    assert.equal(hash.digest('hex'), file.sha256)
    assert.ok(hub.cdn.rangeRequests > 0 && hub.cdn.bytesServed <= file.size * 1.05, `CDN served ${hub.cdn.bytesServed} of ${file.size}`)
  })
})
