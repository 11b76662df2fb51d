import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { configHelp, formatHostPort, loadConfig, options, parseByteSize, parseHostPort } from '../src/config/index.js'
import type { LoadConfigInit } from '../src/config/index.js'
import { ConfigError } from '../src/errors.js'

let dir = ''

before(async () => { dir = await mkdtemp(join(tmpdir(), 'damselfly-config-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

/** Writes `text` as `name` in the temp dir and returns the path. */
async function yamlFile (name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  return path
}

/** Loads expecting a ConfigError; returns its message. */
async function configError (init: LoadConfigInit): Promise<string> {
  try {
    await loadConfig(init)
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    assert.equal(error.code, 'ERR_CONFIG')
    return error.message
  }
  assert.fail('the configuration was accepted')
}

describe('defaults', () => {
  it('gives the documented defaults with no file, environment or flags', async () => {
    assert.deepEqual(await loadConfig({ argv: [], env: {} }), {
      dataDir: join(homedir(), '.cache', 'damselfly'),
      role: 'peer',
      registry: 'https://huggingface.co',
      proxy: { listen: { host: '127.0.0.1', port: 65001 }, allowedClients: [], allowedUpstreams: ['huggingface.co', '*.huggingface.co', 'hf.co', '*.hf.co'] },
      admin: { listen: { host: '127.0.0.1', port: 65002 }, tokenFile: '' },
      p2p: { listen: ['/ip4/0.0.0.0/tcp/65100'], bootstrap: [], bootstrapDns: [], pskFile: '', dataListen: { host: '0.0.0.0', port: 65101 }, dataEncryption: true },
      backToSource: true,
      rules: ['^https?://cdn-lfs[^/]*\\.hf\\.co/', '^https?://cdn-lfs\\.huggingface\\.co/', '^https?://cas-bridge\\.xethub\\.hf\\.co/', '/repos/'],
      filteredQueryParams: ['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'X-Amz-*', 'response-content-*', 'X-Xet-Cas-Uid', 'x-id'],
      pieceSize: 0,
      origin: { concurrency: 4, retries: 5, retryDelayMs: 200, connectTimeoutMs: 10000, idleTimeoutMs: 30000 },
      tls: { interceptHosts: [], caDir: '', upstreamCaFile: '' },
      log: { level: 'info', format: 'human' },
      storage: { quota: 0, highWatermark: 0.9, lowWatermark: 0.8, ttl: 0 },
      limits: { uploadRate: 0, downloadRate: 0, originRate: 0, requestRate: 0, maxConcurrentTasks: 0, maxStreamsPerPeer: 256 }
    })
  })

  it('ignores environment variables that are not its own and empty ones', async () => {
    const config = await loadConfig({ argv: [], env: { HOME: '/nowhere', DAMSELFLY_ROLE: '', DAMSELFLY_RULES: '  \n' } })
    assert.equal(config.role, 'peer')
    assert.equal(config.rules.length, 4)
  })

  it('the default rules match Hugging Face CDN URLs', async () => {
    const { rules } = await loadConfig({ argv: [], env: {} })
    const matches = (url: string): boolean => rules.some(rule => new RegExp(rule).test(url))
    assert.ok(matches('https://cdn-lfs-us-1.hf.co/repos/ab/cd/0123?Expires=1'))
    assert.ok(matches('https://cas-bridge.xethub.hf.co/xet-bridge-us/abc'))
    assert.ok(!matches('https://huggingface.co/api/models/gpt2'))
  })
})

describe('precedence: defaults < file < environment < flags', () => {
  it('takes each option from the highest source that sets it', async () => {
    const file = await yamlFile('precedence.yaml', [
      'role: seed',
      'registry: https://hub.example.com/',
      'proxy:',
      '  listen: 127.0.0.1:7001',
      'pieceSize: 16MiB',
      'origin:',
      '  concurrency: 8',
      '  retries: 2',
      'log: {level: debug}'
    ].join('\n'))
    const config = await loadConfig({
      argv: ['--origin-concurrency', '16', '--proxy-listen=[::1]:7003'],
      env: {
        DAMSELFLY_CONFIG: file,
        DAMSELFLY_ORIGIN_CONCURRENCY: '12',
        DAMSELFLY_LOG_LEVEL: 'warn',
        DAMSELFLY_PROXY_LISTEN: '127.0.0.1:7002'
      }
    })
    assert.equal(config.configFile, file)
    assert.equal(config.role, 'seed') // file
    assert.equal(config.registry, 'https://hub.example.com') // file, trailing slash dropped
    assert.equal(config.pieceSize, 16 * 1024 * 1024) // file
    assert.equal(config.origin.retries, 2) // file
    assert.equal(config.origin.retryDelayMs, 200) // default, beside file values in one section
    assert.equal(config.log.level, 'warn') // environment over file
    assert.equal(config.log.format, 'human') // default
    assert.equal(config.origin.concurrency, 16) // flag over environment over file
    assert.deepEqual(config.proxy.listen, { host: '::1', port: 7003 }) // flag
  })

  it('reads the file named by --config rather than DAMSELFLY_CONFIG', async () => {
    const fromFlag = await yamlFile('flag.yaml', 'role: seed\n')
    const fromEnv = await yamlFile('env.yaml', 'role: peer\nlog: {format: json}\n')
    const config = await loadConfig({ argv: ['--config', fromFlag], env: { DAMSELFLY_CONFIG: fromEnv } })
    assert.equal(config.configFile, fromFlag)
    assert.equal(config.role, 'seed')
    assert.equal(config.log.format, 'human')
  })

  it('resolves a relative --config against cwd and reads an empty file as no options', async () => {
    await yamlFile('empty.yaml', '# nothing set\n')
    const config = await loadConfig({ argv: ['--config', 'empty.yaml'], env: {}, cwd: dir })
    assert.equal(config.configFile, join(dir, 'empty.yaml'))
    assert.equal(config.role, 'peer')
  })
})

describe('lists', () => {
  it('a list from a higher source replaces the lower one', async () => {
    const file = await yamlFile('lists.yaml', [
      'rules: [from-file-1, from-file-2]',
      'filteredQueryParams: [Signature]',
      'p2p:',
      '  bootstrap:',
      '    - /ip4/10.0.0.1/tcp/65100',
      '  listen: [/ip4/127.0.0.1/tcp/0]'
    ].join('\n'))
    const config = await loadConfig({
      argv: ['--config', file, '--bootstrap', '/ip4/10.0.0.3/tcp/65100', '--bootstrap=/dns4/seed.internal/tcp/65100'],
      env: { DAMSELFLY_RULES: '^a{1,2}$\n  ^b\t^c', DAMSELFLY_BOOTSTRAP: '/ip4/10.0.0.2/tcp/65100' }
    })
    assert.deepEqual(config.rules, ['^a{1,2}$', '^b', '^c']) // environment replaces file; commas kept
    assert.deepEqual(config.p2p.bootstrap, ['/ip4/10.0.0.3/tcp/65100', '/dns4/seed.internal/tcp/65100']) // flags replace both
    assert.deepEqual(config.p2p.listen, ['/ip4/127.0.0.1/tcp/0']) // file replaces default
    assert.deepEqual(config.filteredQueryParams, ['Signature'])
  })

  it('an empty list in the file clears a default', async () => {
    const file = await yamlFile('no-rules.yaml', 'rules: []\n')
    assert.deepEqual((await loadConfig({ argv: ['--config', file], env: {} })).rules, [])
  })

  it('one --rule flag is one regex, spaces and all', async () => {
    const config = await loadConfig({ argv: ['--rule', '^https://a b/'], env: {} })
    assert.deepEqual(config.rules, ['^https://a b/'])
  })
})

describe('paths', () => {
  it('expands ~/ and resolves relative directories', async () => {
    assert.equal((await loadConfig({ argv: ['--data-dir', '~/dl'], env: {} })).dataDir, join(homedir(), 'dl'))
    assert.equal((await loadConfig({ argv: [], env: { DAMSELFLY_DATA_DIR: 'cache' }, cwd: dir })).dataDir, join(dir, 'cache'))
  })

  it('a relative data dir in the file is relative to the file', async () => {
    await mkdir(join(dir, 'etc'), { recursive: true })
    const file = await yamlFile(join('etc', 'relative.yaml'), 'dataDir: ../var/cache\n')
    const config = await loadConfig({ argv: ['--config', file], env: {}, cwd: '/' })
    assert.equal(config.dataDir, join(dir, 'var', 'cache'))
  })
})

describe('byte sizes', () => {
  it('parses numbers and units', () => {
    const cases: Array<[string | number, number]> = [
      ['123', 123],
      [123, 123],
      ['4MiB', 4 * 1024 ** 2],
      ['4 MiB', 4 * 1024 ** 2],
      ['64mib', 64 * 1024 ** 2],
      ['512KiB', 512 * 1024],
      ['1GiB', 1024 ** 3],
      ['100MB', 100_000_000],
      ['2k', 2000],
      ['0.5MiB', 512 * 1024],
      ['7B', 7]
    ]
    for (const [text, bytes] of cases) assert.equal(parseByteSize(text), bytes, String(text))
  })

  it('rejects what is not a byte size', () => {
    for (const text of ['', 'abc', '4 XB', '-1', '1.5', 1.5, -3, 'MiB']) {
      assert.throws(() => parseByteSize(text), ConfigError, String(text))
    }
  })

  it('pieceSize takes sizes from every source', async () => {
    assert.equal((await loadConfig({ argv: ['--piece-size', '4MiB'], env: {} })).pieceSize, 4 * 1024 ** 2)
    assert.equal((await loadConfig({ argv: [], env: { DAMSELFLY_PIECE_SIZE: '65536' } })).pieceSize, 65536)
    const file = await yamlFile('piece.yaml', 'pieceSize: 268435456\n')
    assert.equal((await loadConfig({ argv: ['--config', file], env: {} })).pieceSize, 256 * 1024 ** 2)
  })

  it('pieceSize must be 0 or a power of two from 64KiB to 256MiB', async () => {
    for (const size of ['4MB', '32KiB', '512MiB', '3000000']) {
      const message = await configError({ argv: ['--piece-size', size], env: {} })
      assert.match(message, /--piece-size: must be 0 \(automatic\) or a power of two/, size)
    }
    assert.match(await configError({ argv: [], env: { DAMSELFLY_PIECE_SIZE: 'big' } }),
      /DAMSELFLY_PIECE_SIZE: expected a byte size .*got "big"/)
  })
})

describe('host:port', () => {
  it('parses the accepted forms', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:65001'), { host: '127.0.0.1', port: 65001 })
    assert.deepEqual(parseHostPort('localhost:0'), { host: 'localhost', port: 0 })
    assert.deepEqual(parseHostPort('node-1.example.com:8080'), { host: 'node-1.example.com', port: 8080 })
    assert.deepEqual(parseHostPort('[::1]:65001'), { host: '::1', port: 65001 })
    assert.deepEqual(parseHostPort('[::]:1'), { host: '::', port: 1 })
    assert.deepEqual(parseHostPort(':65001'), { host: '0.0.0.0', port: 65001 })
  })

  it('formats IPv6 in brackets and round-trips', () => {
    assert.equal(formatHostPort({ host: '::1', port: 80 }), '[::1]:80')
    assert.equal(formatHostPort({ host: '127.0.0.1', port: 0 }), '127.0.0.1:0')
    for (const text of ['127.0.0.1:65001', '[fe80::1]:9', 'localhost:1']) assert.equal(formatHostPort(parseHostPort(text)), text)
  })

  it('rejects malformed addresses', () => {
    for (const text of ['abc', '', '65001', 'host:', 'host:port', '1.2.3.4:65536', '::1:80', '[nothost]:1', 'a b:1', 'host:-1']) {
      assert.throws(() => parseHostPort(text), ConfigError, text)
    }
    assert.throws(() => parseHostPort('::1:80'), /brackets/)
  })

  it('takes IPv6 listen addresses from flags, environment and file', async () => {
    // Beyond loopback the admin port needs a token file (read when the node starts, not here).
    const file = await yamlFile('ipv6.yaml', 'admin:\n  listen: "[::]:0"\n  tokenFile: /etc/damselfly/admin-token\n')
    const config = await loadConfig({ argv: ['--config', file], env: { DAMSELFLY_PROXY_LISTEN: '[::1]:9000' } })
    assert.deepEqual(config.proxy.listen, { host: '::1', port: 9000 })
    assert.deepEqual(config.admin.listen, { host: '::', port: 0 })
  })
})

describe('bootstrap DNS names', () => {
  it('takes NAME or NAME:PORT, the libp2p port 65100 when left out', async () => {
    const config = await loadConfig({ argv: ['--bootstrap-dns', 'damselfly-seeds.damselfly.svc.cluster.local', '--bootstrap-dns', 'localhost:4001'], env: {} })
    assert.deepEqual(config.p2p.bootstrapDns, [
      { host: 'damselfly-seeds.damselfly.svc.cluster.local', port: 65100 },
      { host: 'localhost', port: 4001 }
    ])
    const fromEnv = await loadConfig({ argv: [], env: { DAMSELFLY_BOOTSTRAP_DNS: 'seeds-a seeds-b:9' } })
    assert.deepEqual(fromEnv.p2p.bootstrapDns, [{ host: 'seeds-a', port: 65100 }, { host: 'seeds-b', port: 9 }])
  })

  it('rejects what is not a name and a port', async () => {
    for (const text of ['', 'a b', 'seeds:', 'seeds:0', 'seeds:70000', '[::1]:4001', '/dns4/seeds/tcp/1']) {
      assert.match(await configError({ argv: ['--bootstrap-dns', text], env: {} }), /--bootstrap-dns .*expected NAME or NAME:PORT/, text)
    }
  })
})

describe('errors name where the bad value came from', () => {
  it('a flag', async () => {
    const message = await configError({ argv: ['--proxy-listen', 'abc'], env: {} })
    assert.match(message, /--proxy-listen: expected HOST:PORT, got "abc"/)
  })

  it('an environment variable', async () => {
    const message = await configError({ argv: [], env: { DAMSELFLY_ROLE: 'boss' } })
    assert.match(message, /DAMSELFLY_ROLE: expected one of peer, seed, got "boss"/)
  })

  it('a key of the file, named as the user named the file', async () => {
    await yamlFile('config.yaml', 'origin:\n  concurrency: 65\n')
    const message = await configError({ argv: ['--config', 'config.yaml'], env: {}, cwd: dir })
    assert.match(message, /config\.yaml: origin\.concurrency: must be at most 64/)
  })

  it('an element of a list, with its value', async () => {
    assert.match(await configError({ argv: ['--rule', '^ok', '--rule', '(['], env: {} }),
      /--rule "\(\[": not a valid regular expression/)
    assert.match(await configError({ argv: [], env: { DAMSELFLY_BOOTSTRAP: '/ip4/10.0.0.1/tcp/1 /ip4/10.0.0.1/tcp' } }),
      /DAMSELFLY_BOOTSTRAP "\/ip4\/10\.0\.0\.1\/tcp": not a valid multiaddr/)
    const file = await yamlFile('bad-rule.yaml', "rules: ['^ok', '([']\n")
    assert.match(await configError({ argv: ['--config', file], env: {} }),
      /bad-rule\.yaml: rules\[1\] "\(\[": not a valid regular expression/)
  })

  it('a value of the wrong type in the file', async () => {
    const file = await yamlFile('types.yaml', 'rules: "^a"\norigin: 5\nproxy: {listen: 65001}\nlog: {format: xml}\n')
    const message = await configError({ argv: ['--config', file], env: {} })
    assert.match(message, /types\.yaml: rules: expected a list, got "\^a"/)
    assert.match(message, /types\.yaml: origin: expected a mapping, got 5/)
    assert.match(message, /types\.yaml: proxy\.listen: expected HOST:PORT, got 65001/)
    assert.match(message, /types\.yaml: log\.format: expected one of human, json, got "xml"/)
  })

  it('numbers, URLs and ranges', async () => {
    const message = await configError({
      argv: ['--origin-retries', '21', '--registry', 'ftp://hub.example.com', '--origin-connect-timeout-ms', '0'],
      env: { DAMSELFLY_ORIGIN_CONCURRENCY: 'many', DAMSELFLY_ORIGIN_RETRY_DELAY_MS: '1.5' }
    })
    assert.match(message, /--origin-retries: must be at most 20/)
    assert.match(message, /--registry: expected an http or https URL, got "ftp:\/\/hub\.example\.com"/)
    assert.match(message, /--origin-connect-timeout-ms: must be at least 1/)
    assert.match(message, /DAMSELFLY_ORIGIN_CONCURRENCY: expected a whole number, got "many"/)
    assert.match(message, /DAMSELFLY_ORIGIN_RETRY_DELAY_MS: expected a whole number, got "1\.5"/)
  })

  it('reports every problem in one error', async () => {
    await yamlFile('config.yaml', 'origin:\n  concurrency: 65\n')
    const message = await configError({
      argv: ['--config', 'config.yaml', '--proxy-listen', 'abc', '--rule', '(['],
      env: { DAMSELFLY_ROLE: 'boss' },
      cwd: dir
    })
    assert.match(message, /^invalid configuration \(4 problems\):/)
    for (const expected of [
      '--proxy-listen: expected HOST:PORT, got "abc"',
      'DAMSELFLY_ROLE: expected one of peer, seed, got "boss"',
      'config.yaml: origin.concurrency: must be at most 64',
      '--rule "([": not a valid regular expression'
    ]) assert.ok(message.includes(expected), `missing ${expected} in\n${message}`)
  })

  it('a value overridden by a higher source is not checked', async () => {
    const file = await yamlFile('overridden.yaml', 'role: boss\n')
    const config = await loadConfig({ argv: ['--config', file, '--role', 'seed'], env: {} })
    assert.equal(config.role, 'seed')
  })
})

describe('unknown names', () => {
  it('an unknown flag is named', async () => {
    assert.match(await configError({ argv: ['--proxy-listn', '127.0.0.1:1'], env: {} }), /unknown flag --proxy-listn/)
    assert.match(await configError({ argv: ['-x'], env: {} }), /unknown flag -x/)
  })

  it('a flag without its value, and a stray argument, are errors', async () => {
    assert.match(await configError({ argv: ['--role'], env: {} }), /--role/)
    assert.match(await configError({ argv: ['stray'], env: {} }), /stray/)
  })

  it('an unknown YAML key is named with its path and the known keys', async () => {
    const file = await yamlFile('unknown.yaml', 'origin:\n  concurency: 3\nbogus: true\n')
    const message = await configError({ argv: ['--config', file], env: {} })
    assert.match(message, /unknown\.yaml: unknown key "origin\.concurency" \(known keys in origin: concurrency, retries/)
    assert.match(message, /unknown\.yaml: unknown key "bogus"/)
  })

  it('the file path itself is not a file key', async () => {
    const file = await yamlFile('self.yaml', 'configFile: other.yaml\n')
    assert.match(await configError({ argv: ['--config', file], env: {} }), /unknown key "configFile"/)
  })
})

describe('the file', () => {
  it('a named file that does not exist is an error naming its source', async () => {
    assert.match(await configError({ argv: ['--config', 'missing.yaml'], env: {}, cwd: dir }),
      /--config: cannot read "missing\.yaml": no such file/)
    assert.match(await configError({ argv: [], env: { DAMSELFLY_CONFIG: 'missing.yaml' }, cwd: dir }),
      /DAMSELFLY_CONFIG: cannot read "missing\.yaml": no such file/)
  })

  it('YAML syntax errors and a top level that is not a mapping name the file', async () => {
    const broken = await yamlFile('broken.yaml', 'rules: [a\n')
    assert.match(await configError({ argv: ['--config', broken], env: {} }), /broken\.yaml: .* at line 2, column 1/)
    const list = await yamlFile('list.yaml', '- a\n- b\n')
    assert.match(await configError({ argv: ['--config', list], env: {} }), /list\.yaml: expected a mapping of options/)
  })
})

describe('help', () => {
  it('lists every flag with its environment variable', () => {
    const help = configHelp()
    for (const option of options) {
      assert.ok(help.includes(`--${option.flag} `), option.flag)
      assert.ok(help.includes(option.env), option.env)
    }
  })
})
