/**
 * The admin token (`--admin-token-file`): a real node with its admin port on every interface,
 * real HTTP requests, the real `damselfly` command. Every request that can change something
 * needs `Authorization: Bearer <token>`, from loopback too; the probes, Prometheus and the
 * status pages stay open; a node beyond loopback without a token does not start.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, stat, writeFile, rm } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config/index.js'
import { ConfigError } from '../src/errors.js'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { startNode, tempDir, type RunningNode } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'

const MiB = 1024 * 1024
const publicRepo = 'acme/guarded'
const privateRepo = 'acme/guarded-private'
/** A private repo whose Hub token is the admin token: it lists only if the node leaked that token. */
const trapRepo = 'acme/admin-token-trap'
const hubToken = 'hf_the-private-repos-token'

interface CommandResult { code: number, stdout: string, stderr: string }

/** `damselfly …` as a user runs it; the caller's variables replace the test process's own. */
async function damselfly (args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
  return await new Promise((resolve) => {
    const clean = { ...process.env, DAMSELFLY_ADMIN_TOKEN_FILE: '', DAMSELFLY_ADMIN_LISTEN: '', HF_TOKEN: '', ...env }
    execFile(process.execPath, [join(repoRoot(), 'bin', 'damselfly.js'), ...args], { env: clean, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

/** An IPv4 address of this host that is not loopback, if it has one. */
function outsideAddress (): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address
  }
  return undefined
}

const preheatBody = (repo: string): string => JSON.stringify({ repo: `hf://${repo}` })

describe('the admin token', () => {
  let folder: string
  let tokenFile: string
  let token: string
  let hub: FakeHub
  let node: RunningNode
  /** The guarded node's admin port, reached through loopback. */
  let admin: string
  let port: number

  before(async () => {
    folder = await tempDir('damselfly-admin-token-')
    tokenFile = join(folder, 'admin-token')
    const made = await damselfly(['keygen', 'admin-token', '-o', tokenFile])
    assert.equal(made.code, 0, made.stderr)
    token = (await readFile(tokenFile, 'utf8')).trim()
    hub = await startFakeHub({
      repos: [
        { id: publicRepo, files: [{ path: 'weights.bin', size: 3 * MiB }, { path: 'more.bin', size: MiB + 5 }] },
        { id: privateRepo, private: true, token: hubToken, files: [{ path: 'secret.bin', size: 2 * MiB + 1 }] },
        { id: trapRepo, private: true, token, files: [{ path: 'trap.bin', size: MiB }] }
      ]
    })
    // Every interface: the node starts only because it has a token.
    node = await startNode(['--role', 'seed', '--registry', hub.hubUrl, '--admin-listen', '0.0.0.0:0', '--admin-token-file', tokenFile])
    port = Number(node.info.admin.split(':').pop())
    admin = `http://127.0.0.1:${port}`
  })

  after(async () => {
    await node?.stop()
    await hub?.close()
    await rm(folder, { recursive: true, force: true })
  })

  it('`damselfly keygen admin-token` writes 64 hex digits, readable by the owner only, and will not replace them', async () => {
    assert.match(token, /^[0-9a-f]{64}$/)
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600)
    const again = await damselfly(['keygen', 'admin-token', '-o', tokenFile])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /exists; refusing to replace a token/)
    assert.equal((await readFile(tokenFile, 'utf8')).trim(), token)
  })

  it('POST /api/preheat without a token: 401 with WWW-Authenticate: Bearer, from loopback too, and nothing reaches the Hub', async () => {
    hub.resetStats()
    const response = await fetch(`${admin}/api/preheat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: preheatBody(publicRepo) })
    assert.equal(response.status, 401)
    assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="damselfly admin"')
    assert.equal(response.headers.get('x-damselfly-error-code'), 'ERR_ADMIN_UNAUTHORIZED')
    const body = await response.json() as { error: string, code: string }
    assert.equal(body.code, 'ERR_ADMIN_UNAUTHORIZED')
    assert.match(body.error, /Authorization: Bearer/)
    assert.equal(hub.hubRequests, 0)
  })

  it('a wrong token, of any length or scheme: 401, with error="invalid_token" when a Bearer token came', async () => {
    hub.resetStats()
    const sameLength = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0')
    const attempts: Array<[string, string]> = [
      [`Bearer ${sameLength}`, 'invalid'],
      [`Bearer ${token.slice(0, 32)}`, 'invalid'],
      [`Bearer ${token}x`, 'invalid'],
      [`Basic ${Buffer.from(`admin:${token}`).toString('base64')}`, 'missing'],
      ['Bearer', 'missing'],
      [token, 'missing']
    ]
    for (const [authorization, reason] of attempts) {
      const response = await fetch(`${admin}/api/preheat`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: preheatBody(publicRepo) })
      assert.equal(response.status, 401, authorization)
      assert.equal(response.headers.get('x-damselfly-error-code'), 'ERR_ADMIN_UNAUTHORIZED')
      const challenge = response.headers.get('www-authenticate') ?? ''
      assert.match(challenge, /^Bearer realm="damselfly admin"/)
      assert.equal(challenge.includes('error="invalid_token"'), reason === 'invalid', `${authorization}: ${challenge}`)
      await response.body?.cancel()
    }
    assert.equal(hub.hubRequests, 0)
  })

  it('the right token: 202, and the preheat runs to the end (the file is in the node\'s cache, byte counts right)', async () => {
    const response = await fetch(`${admin}/api/preheat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ repo: `hf://${publicRepo}`, include: ['weights.bin'] })
    })
    assert.equal(response.status, 202)
    const started = await response.json() as { id: string }
    // Following the job needs no token: it only reads.
    const done = await waitFor('the preheat to end', async () => {
      const status = await (await fetch(`${admin}/api/preheat/${started.id}`)).json() as { state: string, warmedBytes: number, error?: string }
      return status.state === 'done' || status.state === 'failed' ? status : undefined
    }, 60_000)
    assert.equal(done.state, 'done', done.error)
    assert.equal(done.warmedBytes, hub.file(publicRepo, 'weights.bin').size)
    const tasks = (await nodeStatus(`127.0.0.1:${port}`)).tasks
    assert.deepEqual(tasks.map(task => task.status), ['complete'])
  })

  it('the rule is by method, not by route: any method but GET and HEAD needs the token, wherever it goes', async () => {
    for (const [method, path, afterToken] of [['PUT', '/api/status', 405], ['DELETE', '/api/preheat/anything', 405], ['POST', '/no-such-endpoint', 405], ['PATCH', '/healthy', 405]] as const) {
      const refused = await fetch(`${admin}${path}`, { method })
      assert.equal(refused.status, 401, `${method} ${path} without a token`)
      await refused.body?.cancel()
      const answered = await fetch(`${admin}${path}`, { method, headers: { authorization: `Bearer ${token}` } })
      assert.equal(answered.status, afterToken, `${method} ${path} with the token reaches the route`)
      await answered.body?.cancel()
    }
  })

  it('/healthy, /readyz, /metrics, /status, /api/status and a preheat\'s status stay open', async () => {
    for (const path of ['/healthy', '/readyz', '/metrics', '/status', '/api/status']) {
      for (const method of ['GET', 'HEAD']) {
        const response = await fetch(`${admin}${path}`, { method })
        assert.equal(response.status, 200, `${method} ${path}`)
        await response.body?.cancel()
      }
    }
    const metrics = await (await fetch(`${admin}/metrics`)).text()
    assert.match(metrics, /^# (HELP|TYPE) damselfly_/m)
    const status = await (await fetch(`${admin}/api/status`)).json() as { node: { admin: string } }
    assert.equal(status.node.admin, node.info.admin)
    const job = await fetch(`${admin}/api/preheat/no-such-job`)
    assert.equal(job.status, 404, 'an unknown job is 404, not 401')
    await job.body?.cancel()
  })

  it('from another host\'s address the same: reads open, changes need the token', { skip: outsideAddress() === undefined ? 'this host has no non-loopback IPv4 address' : false }, async () => {
    const outside = `http://${outsideAddress() ?? ''}:${port}`
    assert.equal((await fetch(`${outside}/healthy`)).status, 200)
    const refused = await fetch(`${outside}/api/preheat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: preheatBody(publicRepo) })
    assert.equal(refused.status, 401)
    await refused.body?.cancel()
    const wrongBody = await fetch(`${outside}/api/preheat`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' })
    assert.equal(wrongBody.status, 400, 'with the token the request reaches the route')
    await wrongBody.body?.cancel()
  })

  describe('damselfly preheat', () => {
    it('with --admin-token-file: warms the repo', async () => {
      const result = await damselfly(['preheat', `hf://${publicRepo}`, '--include', 'more.bin', '--admin', admin, '--admin-token-file', tokenFile])
      assert.equal(result.code, 0, result.stderr + result.stdout)
      assert.match(result.stdout, /warmed {2}more\.bin/)
      assert.match(result.stdout, /files: {3}1 warmed/)
    })

    it('with DAMSELFLY_ADMIN_TOKEN_FILE and HF_TOKEN: the admin token goes to the node, the Hub token to the Hub (a private repo warms)', async () => {
      const result = await damselfly(['preheat', `hf://${privateRepo}`, '--admin', admin], { DAMSELFLY_ADMIN_TOKEN_FILE: tokenFile, HF_TOKEN: hubToken })
      assert.equal(result.code, 0, result.stderr + result.stdout)
      assert.match(result.stdout, /warmed {2}secret\.bin/)
      // The admin token is never passed on: a repo the Hub would open with it stays closed.
      const trapped = await damselfly(['preheat', `hf://${trapRepo}`, '--admin', admin, '--admin-token-file', tokenFile])
      assert.equal(trapped.code, 1)
      assert.match(trapped.stdout, /preheat failed: hf:\/\/acme\/admin-token-trap/)
      assert.match(trapped.stdout, /error: +origin answered 401/)
    })

    it('without a token: exit 1, saying which option to pass; nothing starts', async () => {
      hub.resetStats()
      const result = await damselfly(['preheat', `hf://${publicRepo}`, '--admin', admin])
      assert.equal(result.code, 1)
      assert.match(result.stderr, /needs its admin token \(answer 401\); pass --admin-token-file FILE or set DAMSELFLY_ADMIN_TOKEN_FILE/)
      assert.equal(hub.hubRequests, 0)
    })

    it('with another token: exit 1, saying the node refused it; a token file it cannot use: exit 2', async () => {
      const otherFile = join(folder, 'other-token')
      await writeFile(otherFile, `${'f'.repeat(64)}\n`)
      const wrong = await damselfly(['preheat', `hf://${publicRepo}`, '--admin', admin, '--admin-token-file', otherFile])
      assert.equal(wrong.code, 1)
      assert.match(wrong.stderr, /refused the admin token from --admin-token-file .*other-token \(answer 401\)/)
      const shortFile = join(folder, 'short-token')
      await writeFile(shortFile, 'letmein\n')
      const short = await damselfly(['preheat', `hf://${publicRepo}`, '--admin', admin], { DAMSELFLY_ADMIN_TOKEN_FILE: shortFile })
      assert.equal(short.code, 2)
      assert.match(short.stderr, /DAMSELFLY_ADMIN_TOKEN_FILE .*short-token: the token has 7 characters, fewer than 32/)
      assert.doesNotMatch(short.stderr, /letmein/, 'the message never quotes the file')
    })
  })
})

describe('an admin port beyond loopback', () => {
  it('without a token the configuration is refused, naming --admin-token-file and the address', async () => {
    for (const listen of ['0.0.0.0:65002', ':65002', '[::]:65002', '10.1.2.3:65002', 'node-1.internal:65002']) {
      await assert.rejects(loadConfig({ argv: ['--admin-listen', listen], env: {} }), (error: unknown) => {
        assert.ok(error instanceof ConfigError, listen)
        assert.match(error.message, /--admin-token-file/)
        assert.match(error.message, /the admin port listens on .*65002, which other hosts can reach/)
        return true
      })
    }
    for (const listen of ['127.0.0.1:0', '127.0.0.2:0', '[::1]:0', 'localhost:0']) {
      const config = await loadConfig({ argv: ['--admin-listen', listen], env: {} })
      assert.equal(config.admin.tokenFile, '', `${listen} needs no token`)
    }
    const config = await loadConfig({ argv: ['--admin-listen', '0.0.0.0:65002'], env: { DAMSELFLY_ADMIN_TOKEN_FILE: 'admin-token' }, cwd: '/etc/damselfly' })
    assert.equal(config.admin.tokenFile, '/etc/damselfly/admin-token')
  })

  it('`damselfly start` exits 2 with a message naming the flag, listening on nothing', async () => {
    const folder = await tempDir()
    try {
      const result = await damselfly(['start', '--data-dir', folder, '--admin-listen', '0.0.0.0:0', '--proxy-listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'])
      assert.equal(result.code, 2)
      assert.match(result.stderr, /admin\.tokenFile: the admin port listens on 0\.0\.0\.0:0, which other hosts can reach: give it a token \(--admin-token-file FILE/)
      await assert.rejects(stat(join(folder, 'node.json')), 'no node.json: the node never started')
    } finally {
      await rm(folder, { recursive: true, force: true })
    }
  })

  it('a token file that is missing, empty or too short stops the start with what is wrong', async () => {
    const folder = await tempDir()
    try {
      const cases: Array<[string, string | undefined, RegExp]> = [
        ['missing', undefined, /cannot read the admin token file: no such file/],
        ['empty', ' \n\n', /the file is empty/],
        ['short', 'abc123\n', /the token has 6 characters, fewer than 32/],
        ['spaced', `${'a'.repeat(20)} ${'b'.repeat(20)}\n`, /one word of printable ASCII/]
      ]
      for (const [name, content, message] of cases) {
        const file = join(folder, name)
        if (content !== undefined) await writeFile(file, content)
        await assert.rejects(startNode(['--admin-listen', '0.0.0.0:0', '--admin-token-file', file]), (error: unknown) => {
          assert.ok(error instanceof ConfigError, name)
          assert.match(error.message, new RegExp(`--admin-token-file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `))
          assert.match(error.message, message)
          return true
        })
      }
      const result = await damselfly(['start', '--data-dir', join(folder, 'data'), '--admin-listen', '127.0.0.1:0', '--admin-token-file', join(folder, 'empty'), '--proxy-listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'])
      assert.equal(result.code, 2, 'a token file is checked on loopback too')
      assert.match(result.stderr, /the file is empty; write a token into it \(`damselfly keygen admin-token -o FILE` or `openssl rand -hex 32 > FILE`\)/)
    } finally {
      await rm(folder, { recursive: true, force: true })
    }
  })

  it('on loopback without a token, changes are open as before', async () => {
    const node = await startNode()
    try {
      const response = await fetch(`http://${node.info.admin}/api/preheat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      assert.equal(response.status, 400, 'the request reaches the route')
      await response.body?.cancel()
    } finally {
      await node.stop()
    }
  })
})
