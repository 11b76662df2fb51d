import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl, fetchThroughProxy } from './helpers/clients.js'
import { startNode, type RunningNode } from './helpers/nodes.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

/** Sends raw bytes and returns whatever the node answers before closing. */
async function rawExchange (address: string, payload: string): Promise<string> {
  const [host, port] = address.split(':')
  return await new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port) })
    let answer = ''
    socket.on('data', (chunk) => { answer += chunk.toString('latin1') })
    socket.on('end', () => { resolve(answer) })
    socket.on('close', () => { resolve(answer) })
    socket.on('error', reject)
    socket.setTimeout(5000, () => { socket.destroy(); resolve(answer) })
    socket.write(payload)
  })
}

describe('bad input and failing origins', () => {
  let hub: FakeHub
  let node: RunningNode

  before(async () => {
    hub = await startFakeHub({
      repos: [{ id: 'acme/faults', files: [{ path: 'a.bin', size: 24 * MiB }, { path: 'b.bin', size: 20 * MiB }, { path: 'c.bin', size: 12 * MiB }] }]
    })
    node = await startNode(['--origin-retries', '3', '--origin-retry-delay-ms', '20', '--allowed-upstreams', '*.invalid'])
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  async function nodeIsUp (): Promise<void> {
    const response = await fetch(`http://${node.info.admin}/healthy`)
    assert.equal(response.status, 200)
  }

  it('answers a malformed request line with 400', async () => {
    const answer = await rawExchange(node.info.proxy, 'GARBAGE / HTTP/9.9\r\n\r\n')
    assert.match(answer, /^HTTP\/1\.1 400 /)
    assert.match(answer, /x-dragonfly-error-type: proxy/i)
    await nodeIsUp()
  })

  it('answers oversized headers with 431', async () => {
    const answer = await rawExchange(node.info.proxy, `GET http://example.invalid/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)
    assert.match(answer, /^HTTP\/1\.1 431 /)
    await nodeIsUp()
  })

  it('answers a request target that is not a URL with 400', async () => {
    const answer = await rawExchange(node.info.proxy, 'GET http://[not-a-host/x HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.match(answer, /^HTTP\/1\.1 400 /)
    assert.match(answer, /x-dragonfly-error-type: proxy/i)
  })

  it('refuses a request that would loop back into the proxy', async () => {
    const result = await fetchThroughProxy(`${node.proxyUrl}/repos/x/y`, { proxy: node.proxyUrl })
    assert.equal(result.status, 400)
    assert.equal(result.headers['x-dragonfly-error-type'], 'proxy')
    await nodeIsUp()
  })

  it('answers a request line with HTTP/2.0, or any version but 1.0 and 1.1, with 505', async () => {
    for (const line of ['GET http://example.invalid/ HTTP/2.0', 'GET http://example.invalid/ HTTP/1.2', 'GET http://example.invalid/ HTTP/0.9', 'CONNECT example.invalid:443 HTTP/2.0']) {
      const answer = await rawExchange(node.info.proxy, `${line}\r\nHost: example.invalid\r\nConnection: close\r\n\r\n`)
      assert.match(answer, /^HTTP\/1\.1 505 /, line)
      assert.match(answer, /x-dragonfly-error-type: proxy/i, line)
      assert.match(answer, /x-damselfly-error-code: ERR_HTTP_VERSION/i, line)
    }
    // HTTP/1.0 is spoken: the request reaches the proxy's own checks (here, the loop's 400).
    const old = await rawExchange(node.info.proxy, `GET http://${node.info.proxy}/x HTTP/1.0\r\n\r\n`)
    assert.match(old, /^HTTP\/1\.1 400 [^]*loop/)
    await nodeIsUp()
  })

  it('refuses a CONNECT to the proxy’s own address as a loop, like a GET, under every name of it', async () => {
    const port = node.info.proxy.split(':').pop() ?? ''
    for (const host of ['127.0.0.1', 'localhost', '127.0.0.2', '[::1]', 'app.localhost']) {
      const answer = await rawExchange(node.info.proxy, `CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`)
      assert.match(answer, /^HTTP\/1\.1 400 /, host)
      assert.match(answer, /x-dragonfly-error-type: proxy/i, host)
      assert.match(answer, /x-damselfly-error-code: ERR_BAD_REQUEST/i, host)
      assert.match(answer, /loop/, host)
      const get = await fetchThroughProxy(`http://${host}:${port}/repos/x/y`, { proxy: node.proxyUrl })
      assert.equal(get.status, 400, `GET via ${host}`)
    }
    await nodeIsUp()
  })

  it('answers an invalid Range with 400 before touching the origin', async () => {
    hub.resetStats()
    const result = await fetchThroughProxy(hub.signedUrl('acme/faults', 'a.bin'), { proxy: node.proxyUrl, headers: { Range: 'bytes=9-3' } })
    assert.equal(result.status, 400)
    assert.equal(result.headers['x-dragonfly-error-type'], 'proxy')
    assert.equal(result.headers['x-damselfly-error-code'], 'ERR_INVALID_RANGE')
    assert.equal(hub.cdn.requests, 0)
  })

  it('answers an unknown host with 502 and the backend error type', async () => {
    const result = await fetchThroughProxy('http://unknown-host.invalid/repos/aa/bb/file', { proxy: node.proxyUrl })
    assert.equal(result.status, 502)
    assert.equal(result.headers['x-dragonfly-error-type'], 'backend')
    await nodeIsUp()
  })

  it('passes an expired signature’s 403 and the origin’s body to the client', { skip: skipUnless('curl') }, async () => {
    const expired = await curl(hub.signedUrl('acme/faults', 'a.bin', { expiresInSeconds: -60 }), { proxy: node.proxyUrl, keepBody: true })
    assert.equal(expired.status, 403)
    assert.equal(expired.headers['x-dragonfly-error-type'], 'backend')
    assert.match(expired.body?.toString() ?? '', /AccessDenied/)
    await nodeIsUp()
    // A path the rules send through a task, which the origin does not have.
    const missing = await curl(`${hub.hubUrl}/repos/no/such/file.bin`, { proxy: node.proxyUrl })
    assert.equal(missing.status, 404)
    assert.equal(missing.headers['x-dragonfly-error-type'], 'backend')
  })

  it('rides out an origin that resets every few requests mid-stream', { skip: skipUnless('curl') }, async () => {
    const file = hub.file('acme/faults', 'b.bin')
    hub.setFaults({ resetEveryNthRequest: 3 })
    try {
      const result = await curl(hub.signedUrl('acme/faults', 'b.bin'), { proxy: node.proxyUrl })
      assert.equal(result.error, undefined)
      assert.equal(result.sha256, file.sha256)
    } finally {
      hub.setFaults({})
    }
  })

  it('cuts the response when the origin keeps breaking, and keeps no corrupt task', { skip: skipUnless('curl') }, async () => {
    const file = hub.file('acme/faults', 'c.bin')
    hub.setFaults({ resetAfterBytes: 32 * 1024 })
    let broken
    try {
      broken = await curl(hub.signedUrl('acme/faults', 'c.bin'), { proxy: node.proxyUrl })
    } finally {
      hub.setFaults({})
    }
    assert.ok(broken.error !== undefined || broken.status >= 500, 'the client must see the failure')
    assert.notEqual(broken.sha256, file.sha256)
    await nodeIsUp()
    // Nothing complete-looking was kept: the next request fetches the rest and is byte-exact.
    const again = await curl(hub.signedUrl('acme/faults', 'c.bin'), { proxy: node.proxyUrl })
    assert.equal(again.error, undefined)
    assert.equal(again.sha256, file.sha256)
    assert.equal(again.headers['x-dragonfly-task-download-finished'], undefined)
  })
})
