/**
 * Not an open relay: who may use the proxy (client networks, loopback always) and where it may
 * go (upstream hosts). Clients are real curl processes; the non-loopback client is this host's
 * own non-loopback address, so no second machine is needed.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { networkInterfaces } from 'node:os'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { startNode, type RunningNode } from './helpers/nodes.js'
import { loadConfig } from '../src/config/index.js'
import { ConfigError } from '../src/errors.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

/** An IPv4 address of this host that is not loopback, if it has one. */
function outsideAddress (): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address
  }
  return undefined
}

describe('who may use the proxy', () => {
  it('refuses to start on a non-loopback address without allowed client networks', async () => {
    await assert.rejects(loadConfig({ argv: ['--proxy-listen', '0.0.0.0:65001'], env: {} }), (error: unknown) => {
      assert.ok(error instanceof ConfigError)
      assert.match(error.message, /--allowed-clients/)
      assert.match(error.message, /0\.0\.0\.0:65001/)
      return true
    })
    const config = await loadConfig({ argv: ['--proxy-listen', '0.0.0.0:65001', '--allowed-clients', '10.0.0.0/8'], env: {} })
    assert.deepEqual(config.proxy.allowedClients, ['10.0.0.0/8'])
    await assert.rejects(loadConfig({ argv: ['--allowed-clients', '10.0.0.0/40'], env: {} }), /--allowed-clients "10\.0\.0\.0\/40": prefix length/)
    // Loopback binds need no list.
    await loadConfig({ argv: ['--proxy-listen', '[::1]:0'], env: {} })
  })

  describe('on all interfaces', () => {
    const address = outsideAddress()
    let hub: FakeHub
    let strict: RunningNode | undefined
    let open: RunningNode | undefined

    before(async () => {
      if (address === undefined) return
      hub = await startFakeHub({ repos: [{ id: 'acme/access', files: [{ path: 'a.bin', size: 5 * MiB }] }] })
      strict = await startNode(['--proxy-listen', '0.0.0.0:0', '--allowed-clients', '10.0.0.0/8'])
      open = await startNode(['--proxy-listen', '0.0.0.0:0', '--allowed-clients', `${address}/32`])
    })

    after(async () => {
      await strict?.stop()
      await open?.stop()
      await hub?.close()
    })

    it('answers 403 to a client outside the allowed networks, serves loopback and allowed ones', { skip: address === undefined ? 'this host has no non-loopback IPv4 address to be a foreign client from' : skipUnless('curl') }, async () => {
      const file = hub.file('acme/access', 'a.bin')
      const port = (node: RunningNode): string => node.info.proxy.split(':').pop() ?? ''
      hub.resetStats()
      const refused = await curl(hub.signedUrl('acme/access', 'a.bin'), { proxy: `http://${address}:${port(strict!)}`, keepBody: true })
      assert.equal(refused.status, 403)
      assert.equal(refused.headers['x-dragonfly-error-type'], 'proxy')
      assert.equal(refused.headers['x-damselfly-error-code'], 'ERR_CLIENT_NOT_ALLOWED')
      assert.equal(hub.cdn.requests, 0, 'a refused client causes no origin traffic')

      const tunnel = await curl(`${hub.cdnUrl}/`, { proxy: `http://${address}:${port(strict!)}`, tunnel: true })
      assert.equal(tunnel.status, 403)

      const local = await curl(hub.signedUrl('acme/access', 'a.bin'), { proxy: `http://127.0.0.1:${port(strict!)}` })
      assert.equal(local.status, 200)
      assert.equal(local.sha256, file.sha256)

      const allowed = await curl(hub.signedUrl('acme/access', 'a.bin'), { proxy: `http://${address}:${port(open!)}` })
      assert.equal(allowed.status, 200)
      assert.equal(allowed.sha256, file.sha256)
    })
  })
})

describe('where the proxy may go', () => {
  let hub: FakeHub
  let node: RunningNode

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/upstreams', files: [{ path: 'a.bin', size: 3 * MiB }] }] })
    // Test nodes allow 127.0.0.1 (the fake Hub); `localhost` is another host name, not allowed.
    node = await startNode()
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  it('answers 403 for a task, a pass-through and a CONNECT to a host not allowed, and never contacts it', { skip: skipUnless('curl') }, async () => {
    const file = hub.file('acme/upstreams', 'a.bin')
    const foreign = hub.signedUrl('acme/upstreams', 'a.bin').replace('127.0.0.1', 'localhost')
    hub.resetStats()
    const task = await curl(foreign, { proxy: node.proxyUrl })
    assert.equal(task.status, 403)
    assert.equal(task.headers['x-dragonfly-error-type'], 'proxy')
    assert.equal(task.headers['x-damselfly-error-code'], 'ERR_UPSTREAM_NOT_ALLOWED')
    const head = await curl(foreign, { proxy: node.proxyUrl, method: 'HEAD' })
    assert.equal(head.status, 403)
    const connect = await curl(`${hub.cdnUrl.replace('127.0.0.1', 'localhost')}/`, { proxy: node.proxyUrl, tunnel: true })
    assert.equal(connect.status, 403)
    assert.equal(hub.cdn.requests, 0, 'nothing reached the host that is not allowed')

    const allowed = await curl(hub.signedUrl('acme/upstreams', 'a.bin'), { proxy: node.proxyUrl })
    assert.equal(allowed.status, 200)
    assert.equal(allowed.sha256, file.sha256)
  })
})
