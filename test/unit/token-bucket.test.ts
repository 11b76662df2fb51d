import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TokenBucket, paceOf } from '../../src/limits/token-bucket.js'
import { RequestLimiter } from '../../src/limits/request-limiter.js'
import { ClientNetworks, UpstreamHosts, isLoopbackHost, parseCidr } from '../../src/limits/access-list.js'
import { AbortedError } from '../../src/errors.js'

describe('TokenBucket', () => {
  it('spends its burst at once, then makes takers wait for the rate', async () => {
    // A slow rate, so that a busy machine's pauses between the calls do not refill it.
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 10 })
    assert.equal(bucket.tryTake(10), 0)
    const wait = bucket.tryTake(5)
    // 5 tokens at 1/s: about 5 s (a little less if time passed since).
    assert.ok(wait >= 3000 && wait <= 5000, `waits ${wait} ms`)
  })

  it('paces a stream: 100 KiB at 400 KiB/s takes a quarter second less the burst', async () => {
    const bucket = new TokenBucket({ ratePerSecond: 400 * 1024, burst: 1024 })
    const started = performance.now()
    for (let sent = 0; sent < 100 * 1024; sent += 4096) await bucket.take(4096)
    const elapsed = performance.now() - started
    // A lower bound only: the rate may never be exceeded, a busy machine may be slower.
    assert.ok(elapsed >= 200, `took ${elapsed.toFixed(0)} ms`)
    assert.equal(bucket.taken, 100 * 1024)
  })

  it('gives back the tokens of a cancelled take', async () => {
    const bucket = new TokenBucket({ ratePerSecond: 100, burst: 1 })
    const controller = new AbortController()
    const pending = bucket.take(1000, controller.signal)
    controller.abort()
    await assert.rejects(pending, AbortedError)
    assert.equal(bucket.taken, 0)
    assert.equal(bucket.tryTake(1), 0, 'the burst is there again')
  })

  it('an unlimited pace resolves at once and has no bucket', async () => {
    const { pace, bucket } = paceOf(0)
    assert.equal(bucket, undefined)
    await pace(1e12)
  })
})

describe('RequestLimiter', () => {
  it('admits a burst per client, then answers how long to wait; clients do not share', () => {
    const limiter = new RequestLimiter({ perSecond: 2 })
    assert.equal(limiter.admit('10.0.0.1'), 0)
    assert.equal(limiter.admit('10.0.0.1'), 0)
    const wait = limiter.admit('10.0.0.1')
    assert.ok(wait > 0 && wait <= 500, `waits ${wait} ms`)
    assert.equal(limiter.admit('10.0.0.2'), 0)
  })

  it('with a rate of 0 admits everything', () => {
    const limiter = new RequestLimiter({ perSecond: 0 })
    for (let i = 0; i < 1000; i++) assert.equal(limiter.admit('10.0.0.1'), 0)
  })
})

describe('access lists', () => {
  it('always lets loopback in, and only the configured networks besides', () => {
    const networks = new ClientNetworks(['10.0.0.0/8', 'fd00::/8', '192.0.2.7'])
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '10.1.2.3', '::ffff:10.1.2.3', 'fd00::5', '192.0.2.7']) {
      assert.ok(networks.allows(address), address)
    }
    for (const address of ['192.0.2.8', '11.0.0.1', 'fe80::1', '::ffff:192.168.1.1', undefined]) {
      assert.ok(!networks.allows(address), String(address))
    }
    assert.ok(!new ClientNetworks([]).allows('192.0.2.2'))
  })

  it('rejects malformed networks', () => {
    for (const text of ['10.0.0.0/33', 'ten/8', '10.0.0.0/8/1', '::1/129', '10.0.0.0/x']) assert.throws(() => parseCidr(text), text)
  })

  it('matches upstream hosts by glob, case-insensitively, without a port', () => {
    const hosts = new UpstreamHosts(['huggingface.co', '*.huggingface.co', 'hf.co', '*.hf.co', '127.0.0.1'])
    for (const host of ['huggingface.co', 'cdn-lfs.huggingface.co', 'CDN-LFS.HF.CO', 'cdn-lfs-us-1.hf.co', 'cas-bridge.xethub.hf.co', 'hf.co', '127.0.0.1']) {
      assert.ok(hosts.allows(host), host)
    }
    for (const host of ['evil.com', 'huggingface.co.evil.com', 'nothf.co', 'localhost', '127.0.0.2']) assert.ok(!hosts.allows(host), host)
    assert.ok(hosts.allowsUrl('https://cdn-lfs.hf.co:443/repos/x'))
    assert.ok(!hosts.allowsUrl('http://169.254.169.254/latest/meta-data'))
    assert.ok(new UpstreamHosts(['*']).allows('anything.example'))
  })

  it('knows which listen hosts are loopback', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '[::1]']) assert.ok(isLoopbackHost(host), host)
    for (const host of ['0.0.0.0', '::', '192.0.2.2', 'node.internal']) assert.ok(!isLoopbackHost(host), host)
  })
})
