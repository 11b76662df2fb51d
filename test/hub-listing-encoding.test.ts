/**
 * A Hub that compresses its listings even when asked for `identity`: the node still takes the
 * Xet fields out (it decodes, filters, sends plain JSON) and asks for `identity` in the first
 * place. Through the proxy in forward mode, so the filter is not tied to mirror mode.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { fetchThroughProxy } from './helpers/clients.js'
import { startNode, type RunningNode } from './helpers/nodes.js'

const listing = [
  { type: 'file', oid: 'a1', size: 10, xetHash: 'x1', path: 'model.bin', lfs: { oid: 'f'.repeat(64), size: 10, pointerSize: 130 } },
  { type: 'file', oid: 'b2', size: 3, path: 'config.json' }
]

describe('Hub listings the Hub sends compressed', () => {
  let hub: Server
  let hubUrl: string
  let node: RunningNode
  const acceptEncodings: Array<string | undefined> = []

  before(async () => {
    hub = createServer((request, response) => {
      acceptEncodings.push(request.headers['accept-encoding'])
      const body = Buffer.from(JSON.stringify(listing))
      const encoding = request.url?.includes('/datasets/') === true ? 'br' : 'gzip'
      const encoded = encoding === 'br' ? brotliCompressSync(body) : gzipSync(body)
      response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding, 'content-length': encoded.length })
      response.end(encoded)
    })
    await new Promise<void>(resolve => { hub.listen(0, '127.0.0.1', resolve) })
    hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`
    node = await startNode()
  })

  after(async () => {
    await node.stop()
    hub.closeAllConnections()
    await new Promise(resolve => hub.close(resolve))
  })

  it('decodes gzip and brotli listings, drops xetHash, sends plain JSON without the old length', async () => {
    for (const type of ['models', 'datasets']) {
      const result = await fetchThroughProxy(`${hubUrl}/api/${type}/acme/llm/tree/main?recursive=true`, { proxy: node.proxyUrl, keepBody: true, headers: { 'accept-encoding': 'gzip, br' } })
      assert.equal(result.status, 200)
      assert.equal(result.headers['content-encoding'], undefined)
      assert.equal(result.headers['content-length'], undefined)
      const { xetHash, ...first } = listing[0]!
      assert.equal(xetHash, 'x1')
      assert.equal(result.body?.toString(), JSON.stringify([first, listing[1]]))
    }
    assert.deepEqual(acceptEncodings, ['identity', 'identity'])
  })
})
