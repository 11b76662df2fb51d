import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { silentLogger } from '../src/logging/logger.js'
import { ProxyServer } from '../src/proxy/proxy-server.js'
import type { TaskManager } from '../src/task/task-manager.js'
import { rawRequest } from './helpers/raw-http.js'
import { startRecordingOrigin, type RecordingOrigin } from './helpers/recording-origin.js'
import { waitFor } from './helpers/wait.js'

/**
 * A client that never finishes its request head (slowloris) gets 408 once the head timeout
 * passes, instead of holding a socket forever; tunnels and finished requests are not touched.
 * The proxy runs alone with a 1 s head timeout: no rule matches, so no task is ever asked for.
 */
describe('slow clients', () => {
  let origin: RecordingOrigin
  let proxy: ProxyServer
  let address: string

  before(async () => {
    origin = await startRecordingOrigin()
    const unused = async (): Promise<never> => await Promise.reject(new Error('no task is ever asked for here'))
    proxy = new ProxyServer({ tasks: {} as TaskManager, logger: silentLogger, origin: { probe: unused } }, {
      host: '127.0.0.1', port: 0, registry: origin.url, rules: [], filteredQueryParams: [], connectTimeoutMs: 2000, headersTimeoutMs: 1000
    })
    await proxy.start()
    address = `127.0.0.1:${proxy.address.port}`
  })

  after(async () => {
    await proxy.stop()
    await origin.close()
  })

  it('answers a head that never ends with 408 and forwards nothing', async () => {
    const answer = await rawRequest(address, `GET ${origin.url}/api/slow HTTP/1.1\r\nHost: x\r\nX-Slow`, { timeoutMs: 10_000 })
    assert.equal(answer.status, 408)
    assert.ok(!origin.seen.some(line => line.includes('/api/slow')))
  })

  it('leaves an open CONNECT tunnel alone past the head timeout', async () => {
    const { port } = new URL(origin.url)
    const socket = connect({ host: '127.0.0.1', port: proxy.address.port })
    let received = ''
    socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1') })
    const opened = Date.now()
    socket.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
    await waitFor('the tunnel to open', () => /^HTTP\/1\.1 200 /.test(received))
    // What is tested is that nothing happens: the open tunnel outlives the 1 s head timeout. Only time shows that.
    await sleep(Math.max(0, opened + 2500 - Date.now()))
    assert.equal(socket.destroyed, false, 'the proxy closed an open tunnel')
    socket.write('GET /api/through-tunnel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await new Promise(resolve => socket.once('close', resolve))
    assert.match(received, /HTTP\/1\.1 200 OK[\s\S]*ok\n$/)
    assert.ok(origin.seen.includes('GET /api/through-tunnel'))
  })
})
