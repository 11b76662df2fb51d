import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { spawnNode, tempDir } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'

const run = promisify(execFile)
const damselfly = (): string => join(repoRoot(), 'bin', 'damselfly.js')

describe('the damselfly command', () => {
  it('starts a node that writes node.json and stops cleanly on SIGTERM', async () => {
    const node = await spawnNode(['--log-level', 'info'])
    after(async () => { await node.stop() })
    const info = JSON.parse(await readFile(join(node.dataDir, 'node.json'), 'utf8')) as Record<string, unknown>
    assert.match(String(info.peerId), /^12D3KooW/)
    assert.ok(Array.isArray(info.multiaddrs) && info.multiaddrs.length > 0)
    for (const address of info.multiaddrs as string[]) assert.match(address, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
    assert.match(String(info.proxy), /^127\.0\.0\.1:\d+$/)
    assert.match(String(info.admin), /^127\.0\.0\.1:\d+$/)
    const health = await fetch(`http://${String(info.admin)}/healthy`)
    assert.equal(health.status, 200)
    assert.match(node.stderr(), /node started/)
    node.child.kill('SIGTERM')
    assert.equal(await node.exited, 0)
    assert.match(node.stderr(), /node stopped/)
    await rm(node.dataDir, { recursive: true, force: true })
  })

  it('keeps its peer id across restarts', async () => {
    const dataDir = await tempDir()
    try {
      const first = await spawnNode([], dataDir)
      await first.stop()
      const second = await spawnNode([], dataDir)
      await second.stop()
      assert.equal(second.info.peerId, first.info.peerId)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  it('refuses a bad configuration with exit code 2 and names the flag', async () => {
    await assert.rejects(run(process.execPath, [damselfly(), 'start', '--proxy-listen', 'nowhere', '--role', 'boss']), (error: { code: number, stderr: string }) => {
      assert.equal(error.code, 2)
      assert.match(error.stderr, /--proxy-listen/)
      assert.match(error.stderr, /--role/)
      return true
    })
  })

  it('prints help listing the start options', async () => {
    const { stdout } = await run(process.execPath, [damselfly(), 'start', '--help'])
    for (const flag of ['--proxy-listen', '--data-dir', '--bootstrap', '--rule', '--registry', '--role']) assert.ok(stdout.includes(flag), flag)
  })
})
