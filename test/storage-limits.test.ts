/**
 * Storage limits with real nodes, the fake Hub and curl: the quota (LRU eviction, never a task
 * in use, contents larger than the quota streamed uncached), the TTL, access times that survive
 * a restart, and a full disk (a small tmpfs) answering 507 without a corrupt task.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, statfs, writeFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { startNode, tempDir, type RunningNode } from './helpers/nodes.js'
import { parsePrometheusText, sampleValue } from './helpers/prometheus-text.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipNow, skipUnless } from './helpers/system-tools.js'

const run = promisify(execFile)
const MiB = 1024 * 1024
const repo = 'acme/quota'

/** The largest buffer, in bytes, the kernel lets a TCP socket grow to in `direction`. */
async function socketBufferMax (direction: 'r' | 'w'): Promise<number> {
  const read = async (path: string): Promise<number> => Number((await readFile(path, 'utf8')).trim().split(/\s+/).pop())
  return Math.max(await read(`/proc/sys/net/ipv4/tcp_${direction}mem`), await read(`/proc/sys/net/core/${direction}mem_max`))
}

/**
 * A body size a paused reader holds the node's response open with, whatever this machine's
 * buffers: twice all that the client's receive and the node's send buffer can hold (Node's own
 * stream buffers add well under a MiB).
 */
async function heldBodyBytes (): Promise<number> {
  const buffers = await socketBufferMax('r') + await socketBufferMax('w')
  return Math.ceil(2 * buffers / MiB) * MiB + 11
}

/** Task bytes the node has handed to its clients' sockets so far (a metric it counts as it writes). */
async function clientBytesSent (node: RunningNode): Promise<number> {
  const response = await fetch(`http://${node.info.admin}/metrics`)
  return sampleValue(parsePrometheusText(await response.text()), 'damselfly_client_bytes_total') ?? 0
}

/**
 * Requests the proxy has finished answering (whatever they became), and the downloads still
 * running: a task is held (never evicted) until both its requests and its download are over.
 */
async function proxySettled (node: RunningNode): Promise<{ answered: number, activeTasks: number }> {
  const response = await fetch(`http://${node.info.admin}/metrics`)
  const families = parsePrometheusText(await response.text())
  const answered = families.get('damselfly_proxy_requests_total')?.samples.reduce((sum, sample) => sum + sample.value, 0) ?? 0
  return { answered, activeTasks: sampleValue(families, 'damselfly_active_tasks') ?? 0 }
}

const taskIdOf = (sha256: string): string => createHash('sha256').update(`sha256:${sha256}`).digest('hex')

/** Bytes the data dir really takes on disk (sparse files count what is written). */
async function diskUsage (dir: string): Promise<number> {
  const { stdout } = await run('du', ['-s', '-B1', dir])
  return Number(stdout.split(/\s/)[0])
}

/**
 * A client that reads the first bytes of a download, then stops reading. The node keeps serving
 * it (the task is in use) only while some of the body is still to be handed to the kernel, so
 * the body must be larger than what the two sockets' buffers can take: see `heldBodyBytes`.
 * `finish` reads the rest and returns the body's sha256.
 */
async function pausedReader (proxyUrl: string, url: string): Promise<{ finish: () => Promise<{ status: number, sha256: string, bytes: number }> }> {
  const proxy = new URL(proxyUrl)
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = httpRequest({ host: proxy.hostname, port: proxy.port, path: url, headers: { host: new URL(url).host } }, resolve)
    outgoing.on('error', reject)
    outgoing.end()
  })
  const hash = createHash('sha256')
  let bytes = 0
  const first = await new Promise<Buffer>((resolve) => { response.once('data', resolve) })
  response.pause()
  hash.update(first)
  bytes += first.length
  return {
    finish: async () => {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        hash.update(chunk)
        bytes += chunk.length
      }
      return { status: response.statusCode ?? 0, sha256: hash.digest('hex'), bytes }
    }
  }
}

describe('cache quota', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let node: RunningNode
  const quota = 40 * MiB

  before(async () => {
    hub = await startFakeHub({
      repos: [{
        id: repo,
        files: [
          { path: 'a.bin', size: 8 * MiB },
          { path: 'b.bin', size: 8 * MiB },
          { path: 'c.bin', size: 8 * MiB },
          { path: 'big.bin', size: 20 * MiB + 7 },
          { path: 'huge.bin', size: 48 * MiB + 3 }
        ]
      }]
    })
    node = await startNode(['--cache-quota', '40MiB', '--cache-high-watermark', '0.9', '--cache-low-watermark', '0.8'])
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  const get = async (path: string): Promise<Awaited<ReturnType<typeof curl>>> => await curl(hub.signedUrl(repo, path), { proxy: node.proxyUrl })
  const held = (path: string): boolean => existsSync(join(node.dataDir, 'tasks', taskIdOf(hub.file(repo, path).sha256), 'meta.json'))

  it('evicts least recently used tasks so a file larger than the space left streams byte-exact, and stays under the quota', async () => {
    for (const path of ['a.bin', 'b.bin', 'c.bin']) {
      const result = await get(path)
      assert.equal(result.sha256, hub.file(repo, path).sha256)
    }
    // a.bin is used again: b.bin is now the least recently used, then c.bin.
    const hit = await get('a.bin')
    assert.equal(hit.headers['x-dragonfly-task-download-finished'], 'true')

    // 24 MiB held, 16 MiB left: big.bin (20 MiB) needs room. Down to the low watermark (32 MiB):
    // 24 + 20 = 44 → without b.bin 36 → without c.bin 28.
    const big = await get('big.bin')
    assert.equal(big.error, undefined)
    assert.equal(big.sha256, hub.file(repo, 'big.bin').sha256)
    assert.ok(held('a.bin'), 'a.bin was used recently: kept')
    assert.ok(!held('b.bin'), 'b.bin was the least recently used: evicted')
    assert.ok(!held('c.bin'), 'c.bin was next: evicted')
    assert.ok(held('big.bin'))
    const usage = await diskUsage(node.dataDir)
    assert.ok(usage <= quota, `data dir takes ${usage} bytes, over the ${quota}-byte quota`)
    const status = await nodeStatus(node.info.admin) as unknown as { cache: { usedBytes: number, evicted: { quota: number } } }
    assert.ok(status.cache.usedBytes <= quota)
    assert.equal(status.cache.evicted.quota, 2)

    // An evicted file is fetched again, not served from a stale folder.
    hub.resetStats()
    const again = await get('b.bin')
    assert.equal(again.sha256, hub.file(repo, 'b.bin').sha256)
    assert.equal(again.headers['x-dragonfly-task-download-finished'], undefined)
    assert.ok(hub.cdn.bytesServed >= 8 * MiB)
  })

  it('streams a file larger than the whole quota from the origin without caching it', async () => {
    const file = hub.file(repo, 'huge.bin')
    hub.resetStats()
    const first = await get('huge.bin')
    assert.equal(first.error, undefined)
    assert.equal(first.status, 200)
    assert.equal(first.sha256, file.sha256)
    assert.ok(!held('huge.bin'), 'no task was kept for it')
    const ranged = await curl(hub.signedUrl(repo, 'huge.bin'), { proxy: node.proxyUrl, headers: { Range: 'bytes=100-199' }, keepBody: true })
    assert.equal(ranged.status, 206)
    assert.equal(ranged.bytes, 100)
    assert.ok(hub.cdn.bytesServed >= file.size, 'each request goes to the origin')
    assert.ok((await diskUsage(node.dataDir)) <= quota)
  })
})

describe('a task in use is never evicted', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let node: RunningNode

  let quota: number

  before(async () => {
    // x.bin is held open by a reader that stops: larger than this machine's socket buffers. The
    // quota holds x.bin and two 8 MiB files, but not x.bin and v.bin.
    const xSize = await heldBodyBytes()
    quota = xSize + 16 * MiB
    hub = await startFakeHub({
      repos: [{ id: repo, files: [{ path: 'x.bin', size: xSize }, { path: 'w.bin', size: 8 * MiB }, { path: 'z.bin', size: 8 * MiB }, { path: 'v.bin', size: 20 * MiB }] }]
    })
    node = await startNode(['--cache-quota', String(quota)])
  })

  after(async () => {
    await node.stop()
    await hub.close()
  })

  it('evicts others instead, or streams uncached when nothing else can go', async () => {
    const held = (path: string): boolean => existsSync(join(node.dataDir, 'tasks', taskIdOf(hub.file(repo, path).sha256), 'meta.json'))
    for (const path of ['x.bin', 'w.bin']) assert.equal((await curl(hub.signedUrl(repo, path), { proxy: node.proxyUrl })).sha256, hub.file(repo, path).sha256)
    // w.bin used last: x.bin is the least recently used, but a slow client is reading it.
    const sentBefore = await clientBytesSent(node)
    const reader = await pausedReader(node.proxyUrl, hub.signedUrl(repo, 'x.bin'))
    const answeredBefore = (await proxySettled(node)).answered
    await curl(hub.signedUrl(repo, 'w.bin'), { proxy: node.proxyUrl })
    // curl can exit before the node has let go of w.bin (its request's end, its download's last
    // checks); while it holds it, z.bin fits beside x and w exactly (the quota is x + 16 MiB) and
    // nothing is evicted.
    await waitFor('the node to let go of w.bin', async () => {
      const { answered, activeTasks } = await proxySettled(node)
      return answered > answeredBefore && activeTasks === 0
    })

    const z = await curl(hub.signedUrl(repo, 'z.bin'), { proxy: node.proxyUrl })
    assert.equal(z.sha256, hub.file(repo, 'z.bin').sha256)
    const xSent = await clientBytesSent(node) - sentBefore - 2 * 8 * MiB
    assert.ok(xSent < hub.file(repo, 'x.bin').size, `the node sent all ${xSent} bytes of x.bin to a reader that stopped`)
    assert.ok(held('x.bin'), 'x.bin is being served: kept although least recently used')
    assert.ok(!held('w.bin'), 'w.bin went instead')

    // x (in use) + 20 MiB > the quota: v cannot fit beside x whatever goes, so it is streamed
    // uncached and nothing is evicted for it.
    const v = await curl(hub.signedUrl(repo, 'v.bin'), { proxy: node.proxyUrl })
    assert.equal(v.error, undefined)
    assert.equal(v.sha256, hub.file(repo, 'v.bin').sha256)
    assert.ok(held('x.bin'))
    assert.ok(held('z.bin'), 'z.bin was not evicted for a content that could not be cached anyway')
    assert.ok(!held('v.bin'))

    const read = await reader.finish()
    assert.equal(read.status, 200)
    assert.equal(read.sha256, hub.file(repo, 'x.bin').sha256, 'the slow client got every byte')
    assert.ok((await diskUsage(node.dataDir)) <= quota)
  })
})

describe('cache TTL and access times', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub

  before(async () => {
    // u.bin is held open by a reader that stops: larger than this machine's socket buffers.
    const held = await heldBodyBytes()
    hub = await startFakeHub({ repos: [{ id: repo, files: [{ path: 't.bin', size: 2 * MiB }, { path: 'u.bin', size: held }, { path: 'old.bin', size: 4 * MiB }, { path: 'new.bin', size: 4 * MiB }] }] })
  })

  after(async () => {
    await hub.close()
  })

  it('evicts a task unused for the TTL but not one being served', async () => {
    const node = await startNode(['--cache-ttl', '1s'])
    try {
      const folder = (path: string): string => join(node.dataDir, 'tasks', taskIdOf(hub.file(repo, path).sha256))
      assert.equal((await curl(hub.signedUrl(repo, 't.bin'), { proxy: node.proxyUrl })).sha256, hub.file(repo, 't.bin').sha256)
      assert.equal((await curl(hub.signedUrl(repo, 'u.bin'), { proxy: node.proxyUrl })).sha256, hub.file(repo, 'u.bin').sha256)
      const sentBefore = await clientBytesSent(node)
      const reader = await pausedReader(node.proxyUrl, hub.signedUrl(repo, 'u.bin'))
      await waitFor('t.bin to expire', () => !existsSync(folder('t.bin')), 10_000)
      // The node has not handed u.bin's last bytes to the socket: its response, and so the task, is still in use.
      const sent = await clientBytesSent(node) - sentBefore
      assert.ok(sent < hub.file(repo, 'u.bin').size, `the node sent all ${sent} bytes of u.bin to a reader that stopped`)
      assert.ok(existsSync(folder('u.bin')), 'u.bin is being served: not expired')
      assert.equal((await reader.finish()).sha256, hub.file(repo, 'u.bin').sha256)
      hub.resetStats()
      const again = await curl(hub.signedUrl(repo, 't.bin'), { proxy: node.proxyUrl })
      assert.equal(again.sha256, hub.file(repo, 't.bin').sha256)
      assert.equal(again.headers['x-dragonfly-task-download-finished'], undefined)
      assert.ok(hub.cdn.bytesServed >= 2 * MiB, 'an expired task is fetched again')
    } finally {
      await node.stop()
    }
  })

  it('keeps the LRU order across a restart (access times are saved)', async () => {
    const dataDir = await tempDir()
    try {
      const first = await startNode([], dataDir)
      for (const path of ['old.bin', 'new.bin']) await curl(hub.signedUrl(repo, path), { proxy: first.proxyUrl })
      // Access times are in milliseconds: the next use must be stamped later than new.bin's.
      const newUsed = Date.now()
      await waitFor('the clock to pass new.bin’s access time', () => Date.now() > newUsed)
      // old.bin was created first but used last.
      assert.equal((await curl(hub.signedUrl(repo, 'old.bin'), { proxy: first.proxyUrl })).headers['x-dragonfly-task-download-finished'], 'true')
      await first.stop()

      // A quota that holds one of the two: the one used longest ago goes, at start.
      const second = await startNode(['--cache-quota', '6MiB'], dataDir)
      try {
        const folder = (path: string): string => join(dataDir, 'tasks', taskIdOf(hub.file(repo, path).sha256))
        await waitFor('the collector to run at start', () => !existsSync(folder('new.bin')) || !existsSync(folder('old.bin')), 5000)
        assert.ok(existsSync(folder('old.bin')), 'old.bin was used last: kept')
        assert.ok(!existsSync(folder('new.bin')), 'new.bin was used longest ago: evicted')
      } finally {
        await second.stop()
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

describe('a full disk', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let mountDir: string
  let mounted = false
  let skip: string | false = false

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: repo, files: [{ path: 'f.bin', size: 24 * MiB + 11 }] }] })
    mountDir = await tempDir('damselfly-tmpfs-')
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mountDir])
      mounted = true
    } catch (error) {
      skip = `cannot mount a tmpfs (${(error as Error).message.split('\n')[0] ?? ''})`
    }
  })

  after(async () => {
    if (mounted) await run('umount', ['-l', mountDir]).catch(() => {})
    await rm(mountDir, { recursive: true, force: true })
    await hub.close()
  })

  it('answers 507, keeps no corrupt or complete-looking task, stays up, and succeeds once space exists', async (t) => {
    if (skip !== false) {
      skipNow(t, skip)
      return
    }
    const dataDir = join(mountDir, 'data')
    await mkdir(dataDir)
    const node = await startNode([], dataDir)
    const filler = join(mountDir, 'filler')
    try {
      const file = hub.file(repo, 'f.bin')
      // Fill the disk but for 256 KiB: metadata still fits, the first 512 KiB write does not.
      const free = await statfs(mountDir)
      await writeFile(filler, Buffer.alloc(Number(free.bavail) * free.bsize - 256 * 1024))

      const full = await curl(hub.signedUrl(repo, 'f.bin'), { proxy: node.proxyUrl, keepBody: true })
      assert.equal(full.status, 507, `status ${full.status}: ${full.body?.toString() ?? ''}`)
      assert.equal(full.headers['x-dragonfly-error-type'], 'proxy')
      assert.equal(full.headers['x-damselfly-error-code'], 'ERR_STORAGE')
      assert.equal((await fetch(`http://${node.info.admin}/healthy`)).status, 200)

      const status = await nodeStatus(node.info.admin)
      assert.ok(status.tasks.every(task => task.status !== 'complete'), 'no task claims to be complete')
      const metaPath = join(dataDir, 'tasks', taskIdOf(file.sha256), 'meta.json')
      if (existsSync(metaPath)) {
        const meta = JSON.parse(await readFile(metaPath, 'utf8')) as { bitmap: string, digests: Array<string | null> }
        assert.ok(meta.digests.some(digest => digest === null), 'the metadata does not claim every piece')
      }

      const stillFull = await curl(hub.signedUrl(repo, 'f.bin'), { proxy: node.proxyUrl })
      assert.equal(stillFull.status, 507, 'still no space: still 507, never a short 200')

      await rm(filler)
      const later = await curl(hub.signedUrl(repo, 'f.bin'), { proxy: node.proxyUrl })
      assert.equal(later.error, undefined)
      assert.equal(later.status, 200)
      assert.equal(later.sha256, file.sha256)
      const hit = await curl(hub.signedUrl(repo, 'f.bin'), { proxy: node.proxyUrl })
      assert.equal(hit.headers['x-dragonfly-task-download-finished'], 'true')
      assert.equal(hit.sha256, file.sha256)
    } finally {
      await node.stop()
      await rm(filler, { force: true })
    }
  })
})
