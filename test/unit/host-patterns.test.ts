import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '../../src/config/index.js'
import { ConfigError } from '../../src/errors.js'
import { HostMatcher, parseHostPattern } from '../../src/tls/host-patterns.js'

describe('--intercept-host patterns', () => {
  it('normalises hosts, ports, wildcards and IPv6', () => {
    assert.equal(parseHostPattern('HuggingFace.co'), 'huggingface.co')
    assert.equal(parseHostPattern('huggingface.co.'), 'huggingface.co')
    assert.equal(parseHostPattern('cdn-lfs.hf.co:443'), 'cdn-lfs.hf.co:443')
    assert.equal(parseHostPattern('*.HF.co'), '*.hf.co')
    assert.equal(parseHostPattern('127.0.0.1:8443'), '127.0.0.1:8443')
    assert.equal(parseHostPattern('[::1]:8443'), '[::1]:8443')
    assert.equal(parseHostPattern('[::1]'), '::1')
    assert.equal(parseHostPattern('::1'), '::1')
  })

  it('refuses what is not a host pattern', () => {
    for (const bad of ['', 'https://huggingface.co', 'huggingface.co/path', 'host:0', 'host:65536', 'host:port', '*.1.2.3.4', '[nope]:1', 'a..b', '*']) {
      assert.throws(() => parseHostPattern(bad), ConfigError, bad)
    }
  })

  it('matches hosts on every port or one, and names under a wildcard domain', () => {
    const matcher = new HostMatcher(['huggingface.co', '*.hf.co', '127.0.0.1:8443', '[::1]:9443'])
    assert.ok(matcher.matches('huggingface.co', 443))
    assert.ok(matcher.matches('HUGGINGFACE.CO', 8080))
    assert.ok(!matcher.matches('evil-huggingface.co', 443))
    assert.ok(!matcher.matches('huggingface.co.evil.com', 443))
    assert.ok(matcher.matches('cdn-lfs-us-1.hf.co', 443))
    assert.ok(matcher.matches('a.b.hf.co', 443))
    assert.ok(!matcher.matches('hf.co', 443), 'a wildcard does not cover the domain itself')
    assert.ok(!matcher.matches('evilhf.co', 443))
    assert.ok(matcher.matches('127.0.0.1', 8443))
    assert.ok(!matcher.matches('127.0.0.1', 443))
    assert.ok(matcher.matches('::1', 9443))
    assert.ok(matcher.matches('[::1]', 9443))
    assert.ok(!new HostMatcher([]).matches('huggingface.co', 443))
  })

  it('takes comma-separated patterns from flags, the environment and the file', async () => {
    const fromFlags = await loadConfig({ argv: ['--intercept-host', 'huggingface.co,*.hf.co', '--intercept-host', '127.0.0.1:8443'], env: {} })
    assert.deepEqual(fromFlags.tls.interceptHosts, ['huggingface.co', '*.hf.co', '127.0.0.1:8443'])
    const fromEnv = await loadConfig({ argv: [], env: { DAMSELFLY_INTERCEPT_HOSTS: 'huggingface.co *.HF.co' } })
    assert.deepEqual(fromEnv.tls.interceptHosts, ['huggingface.co', '*.hf.co'])
  })

  it('names the flag of a bad pattern', async () => {
    await assert.rejects(loadConfig({ argv: ['--intercept-host', 'https://huggingface.co'], env: {} }), (error: Error) => {
      assert.ok(error instanceof ConfigError)
      assert.match(error.message, /--intercept-host/)
      assert.match(error.message, /HOST, HOST:PORT or \*\.DOMAIN/)
      return true
    })
  })
})
