import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { downloadFile, snapshotDownload } from '@huggingface/hub'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { startNode, tempDir, type RunningNode } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { runPythonClient } from './helpers/python.js'
import { skipUnless } from './helpers/system-tools.js'
import { waitFor } from './helpers/wait.js'

const MiB = 1024 * 1024
const TOKEN = 'hf_private_token'

/** What test/clients/hf_flow_download.py prints. */
interface HfFlowResult {
  head_status: number
  error_code: string | null
  location?: string
  commit?: string | null
  etag?: string | null
  size?: number
  xet_hash?: string | null
  get_status?: number
  received?: number
  sha256?: string
}

async function sha256OfFile (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

describe('Hub clients with HF_ENDPOINT at the node (a Hub that redirects git files and offers Xet)', () => {
  let hub: FakeHub
  let first: RunningNode
  let second: RunningNode

  before(async () => {
    hub = await startFakeHub({
      hubBehaviour: { resolveCacheRedirects: true, xetHeaders: true },
      repos: [
        {
          id: 'acme/llm',
          files: [
            { path: 'model-00001-of-00002.safetensors', size: 20 * MiB + 3 },
            { path: 'model-00002-of-00002.safetensors', size: 12 * MiB },
            { path: 'config.json', size: 900 },
            { path: 'tokenizer/vocab.json', size: 40_000 }
          ]
        },
        { id: 'acme/corpus', type: 'dataset', files: [{ path: 'data/train.parquet', size: 6 * MiB + 11 }] },
        { id: 'acme/secret', private: true, token: TOKEN, files: [{ path: 'weights.bin', size: 5 * MiB + 1 }] }
      ]
    })
    first = await startNode(['--role', 'seed', '--registry', hub.hubUrl])
    second = await startNode(['--registry', hub.hubUrl, '--bootstrap', first.info.multiaddrs[0]!])
    await waitFor('the second node to join', async () => (await nodeStatus(second.info.admin)).peers.includes(first.info.peerId))
  })

  after(async () => {
    await Promise.all([first.stop(), second.stop()])
    await hub.close()
  })

  it('@huggingface/hub snapshotDownload of a whole repo: byte-exact; through a second node the CDN serves 0 bytes', async () => {
    const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'config.json', 'tokenizer/vocab.json']
    const lfsBytes = names.map(name => hub.file('acme/llm', name)).filter(file => file.lfs).reduce((sum, file) => sum + file.size, 0)
    hub.resetStats()
    const snapshot = await snapshotDownload({ repo: 'acme/llm', hubUrl: first.proxyUrl, cacheDir: await tempDir('damselfly-hfcache-') })
    for (const name of names) {
      assert.equal(await sha256OfFile(join(snapshot, name)), hub.file('acme/llm', name).sha256, name)
    }
    assert.ok(hub.cdn.bytesServed <= lfsBytes * 1.05, `CDN served ${hub.cdn.bytesServed} for ${lfsBytes} bytes of LFS files`)
    const served = hub.cdn.bytesServed
    const again = await snapshotDownload({ repo: 'acme/llm', hubUrl: second.proxyUrl, cacheDir: await tempDir('damselfly-hfcache-') })
    for (const name of names) {
      assert.equal(await sha256OfFile(join(again, name)), hub.file('acme/llm', name).sha256, name)
    }
    assert.equal(hub.cdn.bytesServed, served, 'the second node took every LFS file from the first')
  })

  it('@huggingface/hub downloadFile of a dataset file', async () => {
    const file = hub.file('datasets/acme/corpus', 'data/train.parquet')
    const blob = await downloadFile({ repo: { type: 'dataset', name: 'acme/corpus' }, path: 'data/train.parquet', hubUrl: first.proxyUrl })
    assert.ok(blob !== null)
    const hash = createHash('sha256')
    for await (const chunk of blob.stream() as unknown as AsyncIterable<Uint8Array>) hash.update(chunk)
    assert.equal(hash.digest('hex'), file.sha256)
  })

  it('the huggingface_hub flow (HEAD, metadata, GET of the location) stays on the node, Xet hints hidden', { skip: skipUnless('python3+requests') }, async () => {
    const file = hub.file('acme/llm', 'model-00002-of-00002.safetensors')
    const result = await runPythonClient<HfFlowResult>('hf_flow_download.py', ['endpoint', second.proxyUrl, 'acme/llm', 'main', 'model-00002-of-00002.safetensors'])
    assert.equal(result.head_status, 200)
    assert.ok(result.location?.startsWith(second.proxyUrl), `location ${result.location ?? ''} leaves the node`)
    assert.match(result.commit ?? '', /^[0-9a-f]{40}$/)
    assert.equal(result.etag, `"${file.sha256}"`)
    assert.equal(result.size, file.size)
    assert.equal(result.xet_hash, null)
    assert.deepEqual([result.get_status, result.received, result.sha256], [200, file.size, file.sha256])
  })

  it('a git file behind the Hub’s relative redirect to /api/resolve-cache/ (HEAD flow and curl -L)', { skip: skipUnless('python3+requests', 'curl') }, async () => {
    const file = hub.file('acme/llm', 'tokenizer/vocab.json')
    const result = await runPythonClient<HfFlowResult>('hf_flow_download.py', ['endpoint', first.proxyUrl, 'acme/llm', 'main', 'tokenizer/vocab.json'])
    assert.deepEqual([result.head_status, result.get_status, result.sha256], [200, 200, file.sha256])
    const followed = await curl(`${first.proxyUrl}/acme/llm/resolve/main/tokenizer/vocab.json`, { followRedirects: true })
    assert.deepEqual([followed.status, followed.sha256], [200, file.sha256])
  })

  it('Dragonfly’s adapter style: the Hub asked through the proxy, the CDN redirect followed through it', { skip: skipUnless('python3+requests') }, async () => {
    const file = hub.file('acme/llm', 'model-00001-of-00002.safetensors')
    hub.resetStats()
    const result = await runPythonClient<HfFlowResult>('hf_flow_download.py', ['adapter', first.proxyUrl, hub.hubUrl, 'acme/llm', 'main', 'model-00001-of-00002.safetensors'])
    assert.equal(result.head_status, 302)
    assert.ok(result.location?.startsWith(hub.cdnUrl), `location ${result.location ?? ''}`)
    assert.equal(result.xet_hash, null, 'Xet hints are dropped from relayed answers too')
    assert.deepEqual([result.get_status, result.received, result.sha256], [200, file.size, file.sha256])
    assert.equal(hub.cdn.bytesServed, 0, 'the file was cached by the mirror downloads under the same sha256')
  })

  it('a private file: 401 without the token even when cached, served from the cache with it', { skip: skipUnless('python3+requests') }, async () => {
    const file = hub.file('acme/secret', 'weights.bin')
    const args = ['endpoint', first.proxyUrl, 'acme/secret', 'main', 'weights.bin']
    const owner = await runPythonClient<HfFlowResult>('hf_flow_download.py', args, { HF_TOKEN: TOKEN })
    assert.deepEqual([owner.head_status, owner.get_status, owner.sha256], [200, 200, file.sha256])
    hub.resetStats()
    const stranger = await runPythonClient<HfFlowResult>('hf_flow_download.py', args, { HF_TOKEN: '' })
    assert.equal(stranger.head_status, 401)
    for (const headers of [{}, { Authorization: 'Bearer hf_wrong' }] as Array<Record<string, string>>) {
      const direct = await curl(`${first.proxyUrl}/acme/secret/resolve/main/weights.bin`, { headers })
      assert.equal(direct.status, 401)
      assert.notEqual(direct.sha256, file.sha256)
    }
    const again = await runPythonClient<HfFlowResult>('hf_flow_download.py', args, { HF_TOKEN: TOKEN })
    assert.equal(again.sha256, file.sha256)
    assert.equal(hub.cdn.bytesServed, 0, 'served from the cache')
  })

  it('Hub errors keep their headers on GET and HEAD', { skip: skipUnless('curl') }, async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const missing = await curl(`${first.proxyUrl}/acme/llm/resolve/main/absent.bin`, { method })
      assert.equal(missing.status, 404)
      assert.equal(missing.headers['x-error-code'], 'EntryNotFound')
      assert.equal(missing.headers['x-error-message'], 'Entry not found')
    }
  })
})
