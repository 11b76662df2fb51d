import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode, type NodeProcess } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024
const repo = 'acme/preheated'
const lfsFiles = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'extra/adapter.bin']
const gitFiles = ['config.json', 'tokenizer.json']

interface CommandResult { code: number, stdout: string, stderr: string }

/** `damselfly preheat …` as a user runs it. */
async function preheat (args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot(), 'bin', 'damselfly.js'), 'preheat', ...args], { env: { ...process.env, ...env }, timeout: 600_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

describe('damselfly preheat', () => {
  let hub: FakeHub
  let seeds: NodeProcess[]
  let peer: NodeProcess

  before(async () => {
    hub = await startFakeHub({
      // A CDN connection slower than the LAN between seeds, as the Hub's is. Uncapped, a loopback
      // CDN outruns a loaded machine's peer streams, and a seed then takes its partner's pieces
      // from the origin by design (origin-choice's late rule), which is not what this test pins.
      cdnBytesPerSecondPerConnection: 20_000_000,
      repos: [{
        id: repo,
        files: [
          { path: lfsFiles[0]!, size: 40 * MiB + 3 },
          { path: lfsFiles[1]!, size: 24 * MiB },
          { path: lfsFiles[2]!, size: 2 * MiB + 1 },
          { path: gitFiles[0]!, size: 600 },
          { path: gitFiles[1]!, size: 9000 }
        ]
      }]
    })
    const first = await spawnNode(['--role', 'seed', '--registry', hub.hubUrl])
    const second = await spawnNode(['--role', 'seed', '--registry', hub.hubUrl, '--bootstrap', first.info.multiaddrs[0]!])
    seeds = [first, second]
    peer = await spawnNode(['--registry', hub.hubUrl, '--bootstrap', first.info.multiaddrs[0]!, '--bootstrap', second.info.multiaddrs[0]!])
    await waitFor('the peer to meet both seeds', async () => {
      const { peers } = await nodeStatus(peer.info.admin)
      return seeds.every(seed => peers.includes(seed.info.peerId))
    })
  })

  after(async () => {
    await Promise.all([...seeds, peer].map(async node => await node.stop()))
    await hub.close()
  })

  it('through a peer: the seeds fetch every LFS file once, then the peer downloads all of it with no CDN bytes', { skip: skipUnless('curl') }, async () => {
    const lfsBytes = lfsFiles.reduce((sum, path) => sum + hub.file(repo, path).size, 0)
    hub.resetStats()
    const result = await preheat([`hf://${repo}`, '--admin', `http://${peer.info.admin}`])
    assert.equal(result.code, 0, result.stderr + result.stdout)
    for (const path of lfsFiles) assert.match(result.stdout, new RegExp(`warmed  ${path.replace(/[.]/g, '\\.')}`))
    assert.match(result.stdout, /files: {3}3 warmed, 2 skipped/)
    assert.match(result.stdout, new RegExp(`bytes: .*\\(${lfsBytes} bytes\\)`))
    for (const seed of seeds) assert.ok(result.stdout.includes(seed.info.peerId), `summary names seed ${seed.info.peerId}`)
    assert.ok(!result.stdout.includes(`seeds: .*${peer.info.peerId}`))
    // The CDN served each file about once (each elected seed its share, the rest from the other
    // seed), and the peer itself fetched nothing. Not exactly once: a seed that sees its partner
    // gain no piece for ten seconds (a loaded machine) takes the missing pieces from the origin
    // too, by design (swarm-download's stall rule).
    const shares = await Promise.all(seeds.map(async seed => (await nodeStatus(seed.info.admin)).tasks.map(task => `${task.bytesFromOrigin}+${task.bytesFromPeers}`)))
    assert.ok(hub.cdn.bytesServed >= lfsBytes && hub.cdn.bytesServed <= lfsBytes * 1.5, `CDN served ${hub.cdn.bytesServed} for ${lfsBytes}; seeds' origin+peer bytes per task: ${JSON.stringify(shares)}`)
    assert.deepEqual((await nodeStatus(peer.info.admin)).tasks, [])
    for (const seed of seeds) {
      const status = await nodeStatus(seed.info.admin)
      assert.equal(status.tasks.filter(task => task.status === 'complete').length, lfsFiles.length, 'every seed holds every file')
    }

    const cdnBefore = { bytes: hub.cdn.bytesServed, requests: hub.cdn.requests }
    for (const path of [...lfsFiles, ...gitFiles]) {
      const file = hub.file(repo, path)
      const download = await curl(`${peer.proxyUrl}/${repo}/resolve/main/${path}`)
      assert.equal(download.error, undefined)
      assert.equal(download.status, 200, path)
      assert.equal(download.sha256, file.sha256, path)
    }
    assert.deepEqual({ bytes: hub.cdn.bytesServed, requests: hub.cdn.requests }, cdnBefore, 'the CDN served nothing during the downloads')
    const tasks = (await nodeStatus(peer.info.admin)).tasks
    assert.equal(tasks.reduce((sum, task) => sum + task.bytesFromPeers, 0), lfsBytes)
    assert.equal(tasks.reduce((sum, task) => sum + task.bytesFromOrigin, 0), 0)
  })

  it('on a seed, with --include: only the matching files, the seed among those that fetch', async () => {
    const dataset = 'acme/include-only'
    await hub.close()
    hub = await startFakeHub({
      hubPort: Number(new URL(hub.hubUrl).port),
      repos: [{ id: dataset, type: 'dataset', files: [{ path: 'train/part-0.parquet', size: 9 * MiB }, { path: 'test/part-0.parquet', size: 5 * MiB }] }]
    })
    hub.resetStats()
    const result = await preheat([`hf://datasets/${dataset}@main`, '--include', 'train/*'], { DAMSELFLY_ADMIN_LISTEN: seeds[0]!.info.admin })
    assert.equal(result.code, 0, result.stderr + result.stdout + JSON.stringify({ seeds: seeds.map(seed => seed.info.peerId), peer: peer.info.peerId }))
    assert.match(result.stdout, /warmed {2}train\/part-0\.parquet/)
    assert.doesNotMatch(result.stdout, /test\/part-0/)
    const size = hub.file(`datasets/${dataset}`, 'train/part-0.parquet').size
    assert.ok(hub.cdn.bytesServed >= size && hub.cdn.bytesServed <= size * 1.05, `CDN served ${hub.cdn.bytesServed} for ${size}`)
  })

  it('fails with status 1 and the Hub\'s answer for a repo that does not exist, 2 for a bad argument', async () => {
    const missing = await preheat(['hf://acme/no-such-repo', '--admin', peer.info.admin])
    assert.equal(missing.code, 1)
    assert.match(missing.stdout, /preheat failed: hf:\/\/acme\/no-such-repo/)
    assert.match(missing.stdout, /error: .*404/)
    const usage = await preheat(['acme/not-a-url', '--admin', peer.info.admin])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /expected hf:\/\//)
    const noNode = await preheat([`hf://${repo}`, '--admin', '127.0.0.1:1'])
    assert.equal(noNode.code, 1)
    assert.match(noNode.stderr, /cannot reach the node/)
  })
})
