import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isOwnAddress } from '../../src/proxy/self-address.js'

const interfaces = (): string[] => ['127.0.0.1', '10.1.2.3', 'fe80::1', '::1']

describe('the proxy’s own addresses (loop detection)', () => {
  it('a loopback listener: its port on every loopback name and address', () => {
    const listening = { host: '127.0.0.1', port: 65001 }
    for (const host of ['127.0.0.1', 'localhost', 'LOCALHOST.', 'app.localhost', '127.9.8.7', '::1', '[::1]', '::ffff:127.0.0.1', '0.0.0.0', '::']) {
      assert.equal(isOwnAddress(host, 65001, listening, interfaces), true, host)
    }
    assert.equal(isOwnAddress('127.0.0.1', 65002, listening, interfaces), false, 'another port')
    assert.equal(isOwnAddress('10.1.2.3', 65001, listening, interfaces), false, 'an interface the listener is not on')
    assert.equal(isOwnAddress('example.com', 65001, listening, interfaces), false)
  })

  it('a wildcard listener: also every interface address', () => {
    for (const wildcard of ['0.0.0.0', '::']) {
      const listening = { host: wildcard, port: 65001 }
      for (const host of ['10.1.2.3', 'fe80::1', '[fe80::1]', '::ffff:10.1.2.3', '127.0.0.5', 'localhost']) {
        assert.equal(isOwnAddress(host, 65001, listening, interfaces), true, `${host} on ${wildcard}`)
      }
      assert.equal(isOwnAddress('10.1.2.4', 65001, listening, interfaces), false)
    }
  })

  it('a listener on one address: that address', () => {
    assert.equal(isOwnAddress('10.1.2.3', 8080, { host: '10.1.2.3', port: 8080 }, interfaces), true)
    assert.equal(isOwnAddress('10.1.2.9', 8080, { host: '10.1.2.3', port: 8080 }, interfaces), false)
  })
})
