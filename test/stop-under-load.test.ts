/**
 * A clean stop under load (issue 14 §4): a node with 200 clients in the middle of their
 * downloads gets SIGTERM. It must exit within 10 s, leave metadata that claims only pieces that
 * are on disk, and on restart serve every task byte-exact: complete ones at once, partial ones
 * resumed (the origin serves only what was missing). A second signal ends a stop at once.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { open, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Pool } from 'undici'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { fetchThroughProxy } from './helpers/clients.js'
import { spawnNode, tempDir, type NodeProcess } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { Bitmap } from '../src/storage/bitmap.js'
import { isTaskMeta, type TaskMeta } from '../src/storage/task-meta.js'

const KiB = 1024
const MiB = 1024 * KiB
const repo = 'acme/stop'
const loadFiles = Array.from({ length: 6 }, (_, index) => `shard-${index}.bin`)
const CLIENTS = 200
/** The requirement: SIGTERM to exit. */
const STOP_LIMIT_MS = 10_000

interface ClientEnd {
  status: number
  bytes: number
  expected: number
  sha256: string
  wantSha256: string
  error?: string
}

/** Resolves with the process's exit code, or undefined if it has not exited after `ms`. */
async function exitWithin (node: NodeProcess, ms: number): Promise<number | null | undefined> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>(resolve => { timer = setTimeout(() => { resolve(undefined) }, ms) })
  try {
    return await Promise.race([node.exited, late])
  } finally {
    clearTimeout(timer)
  }
}

function sha256 (data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

async function readTaskMetas (dataDir: string): Promise<TaskMeta[]> {
  const root = join(dataDir, 'tasks')
  const metas: TaskMeta[] = []
  for (const id of await readdir(root)) {
    const parsed: unknown = JSON.parse(await readFile(join(root, id, 'meta.json'), 'utf8'))
    assert.ok(isTaskMeta(parsed), `meta.json of ${id} is not task metadata`)
    metas.push(parsed)
  }
  return metas
}

/** Every piece a task's metadata claims is on disk with the origin's bytes and the recorded digest. */
async function assertClaimsOnDisk (dataDir: string, meta: TaskMeta, original: Buffer): Promise<number> {
  const bitmap = Bitmap.fromBase64(Math.ceil(meta.length / meta.pieceSize), meta.bitmap)
  const file = await open(join(dataDir, 'tasks', meta.id, 'data'), 'r')
  try {
    assert.equal((await file.stat()).size, meta.length)
    for (let piece = 0; piece < bitmap.size; piece++) {
      if (!bitmap.has(piece)) continue
      const start = piece * meta.pieceSize
      const length = Math.min(meta.pieceSize, meta.length - start)
      const bytes = Buffer.alloc(length)
      await file.read(bytes, 0, length, start)
      const digest = sha256(bytes)
      assert.equal(digest, sha256(original.subarray(start, start + length)), `task ${meta.id} claims piece ${piece}, but its bytes on disk are not the file's`)
      assert.equal(meta.digests[piece], digest, `task ${meta.id}: the recorded digest of piece ${piece} is wrong`)
    }
    return bitmap.count
  } finally {
    await file.close()
  }
}

describe('a clean stop under load', () => {
  let hub: FakeHub
  let dataDir: string
  const originals = new Map<string, Buffer>()

  before(async () => {
    hub = await startFakeHub({
      repos: [{
        id: repo,
        files: [
          { path: 'done.bin', size: 3 * MiB + 5, lfs: true },
          ...loadFiles.map((path, index) => ({ path, size: 12 * MiB + index * 333 * KiB, lfs: true }))
        ]
      }]
    })
    for (const path of ['done.bin', ...loadFiles]) originals.set(path, await readFile(hub.file(repo, path).localPath))
    dataDir = await tempDir()
  })

  after(async () => {
    await hub?.close()
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
  })

  it('SIGTERM with 200 clients in flight: exits within 10 s, and a restart serves every task byte-exact', async () => {
    // Small pieces so that every task has some complete and some missing when the signal comes.
    const flags = ['--piece-size', '256KiB']
    const first = await spawnNode(flags, dataDir)
    let pool: Pool | undefined
    try {
      const done = await fetchThroughProxy(hub.signedUrl(repo, 'done.bin'), { proxy: first.proxyUrl })
      assert.equal(done.sha256, hub.file(repo, 'done.bin').sha256)

      // A slow origin: the downloads are still running when the signal comes.
      hub.setBandwidth({ total: 3 * MiB })
      pool = new Pool(first.proxyUrl, { connections: CLIENTS, pipelining: 1 })
      const clientPool = pool
      let headed = 0
      const ends = Array.from({ length: CLIENTS }, async (_, index): Promise<ClientEnd> => {
        const path = loadFiles[index % loadFiles.length]!
        const original = originals.get(path)!
        // A third of the clients ask for a range that starts inside the file.
        const from = index % 3 === 0 ? (index * 7919 * 13) % original.length : 0
        const url = new URL(hub.signedUrl(repo, path))
        const end: ClientEnd = { status: 0, bytes: 0, expected: original.length - from, sha256: '', wantSha256: sha256(original.subarray(from)) }
        const hash = createHash('sha256')
        try {
          const response = await clientPool.request({
            path: url.href,
            method: 'GET',
            headers: { host: url.host, ...(from > 0 ? { range: `bytes=${from}-` } : {}) }
          })
          headed++
          end.status = response.statusCode
          for await (const chunk of response.body) {
            hash.update(chunk as Buffer)
            end.bytes += (chunk as Buffer).length
          }
        } catch (error) {
          end.error = (error as Error).message
        }
        end.sha256 = hash.digest('hex')
        return end
      })
      await waitFor(`all ${CLIENTS} clients to have their response heads`, () => headed === CLIENTS, 60_000)
      await waitFor('every download to hold some pieces but not all', async () => {
        const tasks = (await nodeStatus(first.info.admin)).tasks.filter(task => task.status === 'downloading')
        return tasks.length === loadFiles.length && tasks.every(task => task.held >= 2 && task.held < task.pieces)
      }, 60_000)

      const signalled = performance.now()
      first.child.kill('SIGTERM')
      const code = await exitWithin(first, STOP_LIMIT_MS)
      const stopMs = performance.now() - signalled
      assert.notEqual(code, undefined, `the node was still running ${STOP_LIMIT_MS} ms after SIGTERM:\n${first.stderr().slice(-3000)}`)
      assert.equal(code, 0, first.stderr().slice(-3000))
      console.log(`stop under load: exited ${stopMs.toFixed(0)} ms after SIGTERM`)

      // Every client's transfer ended, and none that broke off looks complete.
      for (const end of await Promise.all(ends)) {
        if (end.error === undefined && end.bytes === end.expected) {
          assert.equal(end.sha256, end.wantSha256)
        } else {
          assert.ok(end.error !== undefined, `a cut transfer (${end.bytes} of ${end.expected} bytes) ended without an error`)
        }
      }
    } finally {
      await pool?.destroy()
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL')
      await first.exited
    }

    // On disk: no task claims a piece it does not hold; the partial ones are not complete.
    const metas = await readTaskMetas(dataDir)
    const byPath = new Map(['done.bin', ...loadFiles].map(path => [hub.file(repo, path).sha256, path]))
    const held = new Map<string, number>()
    for (const meta of metas) {
      const path = byPath.get(meta.sha256 ?? '')
      assert.ok(path !== undefined, `an unknown task ${meta.key}`)
      held.set(path, await assertClaimsOnDisk(dataDir, meta, originals.get(path)!))
    }
    assert.equal(held.get('done.bin'), Math.ceil((3 * MiB + 5) / (256 * KiB)))
    for (const path of loadFiles) {
      const pieces = Math.ceil(originals.get(path)!.length / (256 * KiB))
      assert.ok((held.get(path) ?? 0) >= 2 && (held.get(path) ?? 0) < pieces, `${path}: ${held.get(path)} of ${pieces} pieces saved`)
    }

    // Restart on the same data dir: the complete task is a hit, the partial ones resume.
    hub.setBandwidth({})
    hub.resetStats()
    const second = await spawnNode(['--piece-size', '256KiB'], dataDir)
    try {
      const hit = await fetchThroughProxy(hub.signedUrl(repo, 'done.bin'), { proxy: second.proxyUrl })
      assert.equal(hit.sha256, hub.file(repo, 'done.bin').sha256)
      assert.equal(hit.headers['x-dragonfly-task-download-finished'], 'true')
      assert.equal(hub.cdn.bytesServed, 0)
      const resumed = await Promise.all(loadFiles.map(async path => await fetchThroughProxy(hub.signedUrl(repo, path), { proxy: second.proxyUrl })))
      for (const [index, path] of loadFiles.entries()) {
        const file = hub.file(repo, path)
        assert.equal(resumed[index]!.error, undefined)
        assert.equal(resumed[index]!.sha256, file.sha256, `${path} after the restart`)
        // Resumed, not started over: what was saved is not fetched again.
        const missing = file.size - (held.get(path) ?? 0) * 256 * KiB
        const served = hub.cdn.bytesByOid[file.sha256] ?? 0
        assert.ok(served <= missing + 1 * MiB, `${path}: the CDN served ${served} bytes, ${missing} were missing`)
      }
    } finally {
      await second.stop()
    }
    assert.equal(await second.exited, 0)
  })
})
