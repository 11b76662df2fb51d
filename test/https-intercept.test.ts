/**
 * HTTPS interception as a user sets it up: `damselfly ca init`, `--intercept-host` for the
 * Hub and its CDN (both HTTPS here, with a CA of their own that the nodes get through
 * `--upstream-ca-file`), and curl through the node with `--cacert <node CA>`.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFile, rm, stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, tempDir, type NodeProcess } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'
import { nodeStatus } from './helpers/status.js'
import { makeTlsIdentity, type TestTlsIdentity } from './helpers/tls.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless, tool } from './helpers/system-tools.js'

const run = promisify(execFile)
const damselfly = join(repoRoot(), 'bin', 'damselfly.js')
const MiB = 1024 * 1024

/** `damselfly ca init` as a user runs it; the CA certificate's path. */
async function caInit (dataDir: string): Promise<string> {
  const { stdout } = await run(process.execPath, [damselfly, 'ca', 'init', '--data-dir', dataDir])
  const certificate = join(dataDir, 'ca', 'ca.crt')
  assert.ok(stdout.includes(certificate), stdout)
  return certificate
}

const portOf = (url: string): string => new URL(url).port

describe('HTTPS interception', () => {
  let folder: string
  let hubTls: TestTlsIdentity
  let hub: FakeHub
  /** An HTTPS upstream whose certificate no trusted CA signed. */
  let untrusted: Server
  let untrustedRequests = 0
  let untrustedPort: number
  let first: NodeProcess
  let second: NodeProcess
  let firstCa: string
  let secondCa: string

  before(async () => {
    folder = await tempDir('damselfly-https-')
    hubTls = await makeTlsIdentity(folder, 'fake hub CA', ['127.0.0.1', 'localhost'])
    hub = await startFakeHub({
      repos: [{ id: 'acme/tls', files: [{ path: 'model.bin', size: 24 * MiB + 77 }, { path: 'config.json', size: 2000, lfs: false }] }],
      tls: { key: hubTls.key, cert: hubTls.cert }
    })
    const stranger = await makeTlsIdentity(folder, 'stranger CA', ['127.0.0.1'])
    untrusted = createServer({ key: stranger.key, cert: stranger.cert }, (request, response) => {
      untrustedRequests++
      response.end('must never be reached through the node\n')
    })
    await new Promise<void>(resolve => untrusted.listen(0, '127.0.0.1', resolve))
    untrustedPort = (untrusted.address() as AddressInfo).port

    const intercepted = `127.0.0.1:${portOf(hub.hubUrl)},127.0.0.1:${portOf(hub.cdnUrl)},127.0.0.1:${untrustedPort}`
    // localhost is the name of the host left as a blind tunnel below.
    const flags = ['--intercept-host', intercepted, '--upstream-ca-file', hubTls.caFile, '--allowed-upstreams', 'localhost']
    const firstDir = join(folder, 'first')
    const secondDir = join(folder, 'second')
    firstCa = await caInit(firstDir)
    secondCa = await caInit(secondDir)
    first = await spawnNode(flags, firstDir)
    second = await spawnNode([...flags, '--bootstrap', first.info.multiaddrs[0]!], secondDir)
    await waitFor('the second node to connect to the first', async () => (await nodeStatus(second.info.admin)).peers.includes(first.info.peerId))
  })

  after(async () => {
    await Promise.all([first?.stop(), second?.stop()])
    await hub?.close()
    untrusted?.closeAllConnections()
    await new Promise(resolve => untrusted?.close(resolve))
    await rm(folder, { recursive: true, force: true })
  })

  it('ca init writes a CA certificate and a 0600 key, and refuses to overwrite them without --force', async () => {
    const dataDir = join(folder, 'ca-only')
    const certificatePath = await caInit(dataDir)
    const certificate = new X509Certificate(await readFile(certificatePath))
    assert.equal(certificate.ca, true)
    assert.equal((await stat(join(dataDir, 'ca', 'ca.key'))).mode & 0o777, 0o600)
    await assert.rejects(run(process.execPath, [damselfly, 'ca', 'init', '--data-dir', dataDir]), (error: { code: number, stderr: string }) => {
      assert.equal(error.code, 1)
      assert.match(error.stderr, /exists.*--force/)
      return true
    })
    assert.equal(new X509Certificate(await readFile(certificatePath)).fingerprint256, certificate.fingerprint256, 'left alone')
    await run(process.execPath, [damselfly, 'ca', 'init', '--data-dir', dataDir, '--force'])
    assert.notEqual(new X509Certificate(await readFile(certificatePath)).fingerprint256, certificate.fingerprint256, 'replaced')
  })

  it('a node told to intercept without a CA refuses to start and says how to make one', async () => {
    const dataDir = join(folder, 'no-ca')
    await assert.rejects(run(process.execPath, [damselfly, 'start', '--data-dir', dataDir, '--intercept-host', 'huggingface.co',
      '--proxy-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'], { timeout: 30_000 }),
    (error: { code: number, stderr: string }) => {
      assert.equal(error.code, 2)
      assert.match(error.stderr, /damselfly ca init/)
      return true
    })
  })

  it('curl through an intercepting node: the Hub resolve URL, its redirect to the CDN, byte-exact', { skip: skipUnless('curl') }, async () => {
    const file = hub.file('acme/tls', 'model.bin')
    hub.resetStats()
    const result = await curl(`${hub.hubUrl}/acme/tls/resolve/main/model.bin`, { proxy: first.proxyUrl, caFile: firstCa, followRedirects: true })
    assert.equal(result.error, undefined)
    assert.equal(result.status, 200)
    assert.equal(result.sha256, file.sha256)
    assert.ok(hub.hubRequests >= 1, 'the resolve request reached the Hub')
    // The CDN's bytes went to the node's task, not through a tunnel.
    const task = (await nodeStatus(first.info.admin)).tasks.find(candidate => candidate.held === candidate.pieces)
    assert.ok(task !== undefined, 'the node holds the file as a task')
    assert.ok(task.bytesFromOrigin >= file.size)
    assert.ok(hub.cdn.bytesServed >= file.size && hub.cdn.bytesServed <= file.size * 1.05, `CDN served ${hub.cdn.bytesServed} bytes`)
  })

  it('the same file through a second node comes from the swarm: the CDN served it about once in all', { skip: skipUnless('curl') }, async () => {
    // No reset: the CDN's count since the first node's download covers both.
    const file = hub.file('acme/tls', 'model.bin')
    const result = await curl(`${hub.hubUrl}/acme/tls/resolve/main/model.bin`, { proxy: second.proxyUrl, caFile: secondCa, followRedirects: true })
    assert.equal(result.error, undefined)
    assert.equal(result.status, 200)
    assert.equal(result.sha256, file.sha256)
    assert.ok(hub.cdn.bytesServed <= file.size * 1.05, `CDN served ${(hub.cdn.bytesServed / file.size).toFixed(2)}× the file`)
    const task = (await nodeStatus(second.info.admin)).tasks[0]
    assert.ok(task !== undefined && task.bytesFromPeers === file.size, `the second node took ${task?.bytesFromPeers} bytes from peers`)
  })

  it('keeps the intercepted connection alive: a second request reuses the tunnel', { skip: skipUnless('curl') }, async () => {
    const url = `${hub.hubUrl}/acme/tls/resolve/main/config.json`
    // %{num_connects}: new connections curl opened for each transfer; 0 means it reused one.
    const { stdout } = await run(tool('curl'), ['-sS', '--proxy', first.proxyUrl, '--cacert', firstCa, '-w', '%{http_code} %{num_connects}\\n', '-o', '/dev/null', '-o', '/dev/null', url, url])
    assert.deepEqual(stdout.trim().split('\n'), ['200 1', '200 0'])
  })

  it('a host that is not listed stays a blind tunnel: the client sees the upstream\'s own certificate', { skip: skipUnless('curl') }, async () => {
    // localhost is the same fake Hub under a name the nodes were not told to intercept.
    const file = hub.file('acme/tls', 'config.json')
    const url = `https://localhost:${portOf(hub.hubUrl)}/acme/tls/resolve/main/config.json`
    const tasksBefore = (await nodeStatus(first.info.admin)).tasks.length
    const withHubCa = await curl(url, { proxy: first.proxyUrl, caFile: hubTls.caFile })
    assert.equal(withHubCa.error, undefined)
    assert.equal(withHubCa.status, 200)
    assert.equal(withHubCa.sha256, file.sha256)
    const withNodeCa = await curl(url, { proxy: first.proxyUrl, caFile: firstCa })
    assert.match(withNodeCa.error ?? '', /curl exit 60/, 'the node\'s CA cannot vouch for a tunnelled host')
    // And the other way round: an intercepted host's certificate is the node's, not the Hub's.
    const intercepted = await curl(`${hub.hubUrl}/acme/tls/resolve/main/config.json`, { proxy: first.proxyUrl, caFile: hubTls.caFile })
    assert.match(intercepted.error ?? '', /curl exit 60/)
    assert.equal((await nodeStatus(first.info.admin)).tasks.length, tasksBefore)
  })

  it('an upstream whose certificate does not verify gets 502 backend, whether a rule matches or not', { skip: skipUnless('curl') }, async () => {
    for (const path of ['/repos/ab/cd/model.bin', '/api/models/acme/tls']) {
      const result = await curl(`https://127.0.0.1:${untrustedPort}${path}`, { proxy: first.proxyUrl, caFile: firstCa, keepBody: true })
      assert.equal(result.status, 502, path)
      assert.equal(result.headers['x-dragonfly-error-type'], 'backend')
      assert.equal(result.headers['x-damselfly-error-code'], 'ERR_UPSTREAM_CERTIFICATE')
      assert.match(result.body?.toString() ?? '', /certificate of 127\.0\.0\.1:\d+ does not verify/)
    }
    assert.equal(untrustedRequests, 0, 'no request was sent to the impostor')
  })
})
