import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, tempDir } from './helpers/nodes.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

describe('a node killed mid-download', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let dataDir: string

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/restart', files: [{ path: 'big.bin', size: 128 * MiB }] }] })
    dataDir = await tempDir()
  })

  after(async () => {
    await hub.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('resumes after SIGKILL and the CDN serves little more than the file once', async () => {
    const file = hub.file('acme/restart', 'big.bin')
    hub.setBandwidth({ total: 16 * MiB })
    hub.resetStats()
    const first = await spawnNode([], dataDir)
    const cut = curl(hub.signedUrl('acme/restart', 'big.bin'), { proxy: first.proxyUrl })
    while (hub.cdn.bytesServed < file.size / 2) await sleep(50)
    first.child.kill('SIGKILL')
    await first.exited
    const broken = await cut
    assert.ok(broken.error !== undefined, 'the cut transfer must fail, not look complete')
    assert.ok(broken.bytes < file.size)

    hub.setBandwidth({})
    const second = await spawnNode([], dataDir)
    try {
      const resumed = await curl(hub.signedUrl('acme/restart', 'big.bin'), { proxy: second.proxyUrl })
      assert.equal(resumed.error, undefined)
      assert.equal(resumed.sha256, file.sha256)
      assert.equal(resumed.headers['x-dragonfly-task-id'], broken.headers['x-dragonfly-task-id'])
      assert.ok(hub.cdn.bytesServed <= file.size * 1.25, `CDN served ${(hub.cdn.bytesServed / file.size).toFixed(2)}× the file`)
      const hit = await curl(hub.signedUrl('acme/restart', 'big.bin'), { proxy: second.proxyUrl })
      assert.equal(hit.headers['x-dragonfly-task-download-finished'], 'true')
      assert.equal(hit.sha256, file.sha256)
      // The whole-file sha256 was checked across the kill: pieces from before it were read back.
      // meta.json is saved when the download's last checkpoint ends, a moment after the client is done.
      const meta = await waitFor('meta.json to record the verified file', async () => {
        const saved = JSON.parse(await readFile(join(dataDir, 'tasks', resumed.headers['x-dragonfly-task-id'] ?? '', 'meta.json'), 'utf8')) as { sha256?: string, verified?: boolean }
        return saved.verified === true ? saved : undefined
      })
      assert.equal(meta.sha256, file.sha256)
    } finally {
      await second.stop()
    }
    // A clean stop after a restart with a complete cache: SIGTERM ends with exit code 0.
    assert.equal(await second.exited, 0)
  })
})
