import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { StatusReport } from '../src/admin/status-report.js'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, tempDir, type NodeProcess } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless } from './helpers/system-tools.js'

const run = promisify(execFile)
const MiB = 1024 * 1024

async function damselfly (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot(), 'bin', 'damselfly.js'), ...args], { env: { ...process.env, DAMSELFLY_DATA_DIR: undefined } })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number, stdout: string, stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

/** The cells of the table row that names `text`: columns are two or more spaces apart. */
function rowWith (output: string, text: string): string[] {
  const line = output.split('\n').find(candidate => candidate.includes(text))
  assert.ok(line !== undefined, `no line with ${text} in:\n${output}`)
  return line.trim().split(/\s{2,}/)
}

describe('damselfly status', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let a: NodeProcess
  let b: NodeProcess

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/status', files: [{ path: 'model.bin', size: 16 * MiB }] }] })
    a = await spawnNode()
    b = await spawnNode(['--bootstrap', a.info.multiaddrs[0]!])
    await waitFor('B to connect to A', async () => (await nodeStatus(b.info.admin)).peers.includes(a.info.peerId))
    const file = hub.file('acme/status', 'model.bin')
    assert.equal((await curl(hub.signedUrl('acme/status', 'model.bin'), { proxy: a.proxyUrl })).sha256, file.sha256)
    assert.equal((await curl(hub.signedUrl('acme/status', 'model.bin'), { proxy: b.proxyUrl })).sha256, file.sha256)
    await waitFor('both tasks to complete', async () => (await Promise.all([a, b].map(async node => await nodeStatus(node.info.admin))))
      .every(status => status.tasks[0]?.status === 'complete'))
  })

  after(async () => {
    await Promise.all([a, b].map(async node => await node?.stop()))
    await hub?.close()
  })

  it('prints the node, its peers and its tasks with the bytes split by source, found through node.json', async () => {
    const { code, stdout } = await damselfly('status', '--data-dir', b.dataDir)
    assert.equal(code, 0)
    assert.match(stdout, new RegExp(`^Node +${b.info.peerId} +peer`, 'm'))
    assert.match(stdout, /^Peers \(1 connected\)$/m)
    assert.match(rowWith(stdout, a.info.peerId).join(' '), new RegExp(`^${a.info.peerId} /ip4/127\\.0\\.0\\.1/tcp/\\d+`))
    assert.match(stdout, /^Tasks \(1 complete\)$/m)
    const task = (await nodeStatus(b.info.admin)).tasks[0]!
    // NAME SIZE PROGRESS (RATE is empty once complete) ORIGIN PEERS LOCAL STATUS TASK
    assert.deepEqual(rowWith(stdout, 'model.bin'), ['model.bin', '16.0 MiB', '100.0 %', '0 B', '16.0 MiB', '0 B', 'complete', task.id.slice(0, 12)])
    assert.match(stdout, /from origin 0 B · from peers 16\.0 MiB/)
  })

  it('reads any node by --admin, and prints /api/status with --json', async () => {
    const table = await damselfly('status', '--admin', a.info.admin)
    assert.equal(table.code, 0)
    assert.deepEqual(rowWith(table.stdout, 'model.bin').slice(3, 6), ['16.0 MiB', '0 B', '0 B'])
    const json = await damselfly('status', '--admin', `http://${a.info.admin}/`, '--json')
    assert.equal(json.code, 0)
    const status = JSON.parse(json.stdout) as StatusReport
    assert.equal(status.node.peerId, a.info.peerId)
    assert.equal(status.tasks[0]?.bytesFromOrigin, 16 * MiB)
    assert.equal(status.tasks[0]?.pieceMap, 'O'.repeat(status.tasks[0]!.pieces))
    assert.ok(status.uploadedBytes >= 16 * MiB)
  })

  it('says what is wrong when no node can be found or reached', async () => {
    const empty = await tempDir()
    try {
      const missing = await damselfly('status', '--data-dir', empty)
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /node\.json/)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
    const unreachable = await damselfly('status', '--admin', '127.0.0.1:9')
    assert.equal(unreachable.code, 1)
    assert.match(unreachable.stderr, /cannot reach the node's admin port at http:\/\/127\.0\.0\.1:9/)
    const usage = await damselfly('status', '--colour')
    assert.equal(usage.code, 2)
  })
})
