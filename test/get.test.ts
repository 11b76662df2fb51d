import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir, readFile, readlink, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, relative } from 'node:path'
import { Writable } from 'node:stream'
import { runGet } from '../src/cli/get.js'
import { scanCacheDir } from '@huggingface/hub'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { spawnNode, tempDir, type NodeProcess } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless, tool } from './helpers/system-tools.js'

const MiB = 1024 * 1024
const repo = 'acme/get-demo'
const files = [
  { path: 'model.safetensors', size: 24 * MiB + 3 },
  { path: 'weights/extra.bin', size: 2 * MiB + 1 },
  { path: 'config.json', size: 700 },
  { path: 'tokenizer/tokenizer.json', size: 3000 },
  { path: 'tokenizer/vocab.txt', size: 1500 }
]
const secretToken = 'hf_secret_token'

interface GetRun { code: number | null, stdout: string, stderr: string }

/** `damselfly get …` as a user runs it; HF settings come only from `env`. */
async function get (args: string[], env: Record<string, string> = {}, cwd?: string): Promise<GetRun> {
  const child = spawn(process.execPath, [join(repoRoot(), 'bin', 'damselfly.js'), 'get', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
    env: { ...cleanEnv(), ...env }
  })
  return await collect(child)
}

/** The command's function itself, for the cases that need no process of their own. */
async function getInProcess (args: string[]): Promise<GetRun> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (text: string) => void): Writable => new Writable({ write (chunk: Buffer, _encoding, done) { append(chunk.toString()); done() } })
  const code = await runGet(args, { stdout: sink(text => { stdout += text }), stderr: sink(text => { stderr += text }), env: cleanEnv(), cwd: process.cwd() })
  return { code, stdout, stderr }
}

/** The same under a pseudo-terminal (`script` from util-linux), as on a user's terminal. */
async function getOnTerminal (args: string[], env: Record<string, string> = {}): Promise<GetRun> {
  const command = [process.execPath, join(repoRoot(), 'bin', 'damselfly.js'), 'get', ...args].map(arg => `'${arg.replace(/'/g, "'\\''")}'`).join(' ')
  const child = spawn(tool('script'), ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...cleanEnv(), ...env } })
  return await collect(child)
}

async function collect (child: ReturnType<typeof spawn>): Promise<GetRun> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 120_000)
  const code = await new Promise<number | null>(resolve => { child.on('close', resolve) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

let hfHome = ''
function cleanEnv (): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('HF_') && !name.startsWith('HUGGING') && !name.startsWith('DAMSELFLY_')) env[name] = value
  }
  // No token file nor cache of the machine's user leaks in.
  env.HF_HOME = hfHome
  return env
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function listFiles (folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true })
  return entries.filter(entry => !entry.isDirectory()).map(entry => relative(folder, join(entry.parentPath, entry.name))).sort()
}

async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return port
}

describe('damselfly get', () => {
  let hub: FakeHub
  let first: NodeProcess
  let work: string

  before(async () => {
    work = await tempDir('damselfly-get-')
    hfHome = join(work, 'hf-home')
    hub = await startFakeHub({
      repos: [
        { id: repo, files },
        { id: 'acme/data', type: 'dataset', files: [{ path: 'train/part-0.parquet', size: 3 * MiB }] },
        { id: 'acme/secret', private: true, token: secretToken, files: [{ path: 'model.safetensors', size: 2 * MiB }, { path: 'config.json', size: 300 }] },
        { id: 'acme/slow', files: [{ path: 'model.safetensors', size: 6 * MiB }] },
        { id: 'acme/fresh', files: [{ path: 'model.safetensors', size: 3 * MiB + 7 }, { path: 'config.json', size: 90 }] },
        { id: 'acme/broken', files: [{ path: 'model.safetensors', size: 2 * MiB }] }
      ]
    })
    // Short origin backoff: the failed-download case waits out every retry (6 s at the default).
    first = await spawnNode(['--role', 'seed', '--registry', hub.hubUrl, '--origin-retry-delay-ms', '20'])
  })

  after(async () => {
    await first.stop()
    await hub.close()
    await rm(work, { recursive: true, force: true })
  })

  const expectRepo = async (folder: string, paths: string[], from = repo): Promise<void> => {
    assert.deepEqual(await listFiles(folder), [...paths].sort())
    for (const path of paths) assert.equal(await sha256File(join(folder, path)), hub.file(from, path).sha256, path)
  }

  it('downloads a whole repo byte-exact; a second node gets it from the first, the CDN serves nothing more', async () => {
    hub.resetStats()
    const out = join(work, 'whole')
    const run = await get([`hf://${repo}`, '-O', out, '--node', first.proxyUrl])
    assert.equal(run.code, 0, run.stderr)
    await expectRepo(out, files.map(file => file.path))
    assert.equal(run.stdout, `${out}\n`)
    // Piped: no progress frames, one summary line.
    assert.doesNotMatch(run.stderr, /\r/)
    assert.match(run.stderr, /downloading through the node at/)
    assert.match(run.stderr, /5 files downloaded \(26\.0 MiB\)/)
    const lfsBytes = files.filter(file => file.size >= MiB).reduce((sum, file) => sum + file.size, 0)
    assert.ok(hub.cdn.bytesServed >= lfsBytes && hub.cdn.bytesServed <= lfsBytes * 1.05, `CDN served ${hub.cdn.bytesServed}`)

    const served = hub.cdn.bytesServed
    const second = await spawnNode(['--registry', hub.hubUrl, '--bootstrap', first.info.multiaddrs[0] ?? ''])
    try {
      await waitFor('the second node to join', async () => (await nodeStatus(second.info.admin)).peers.includes(first.info.peerId))
      const again = join(work, 'again')
      const rerun = await get([`hf://${repo}`, '-O', again, '--node', second.proxyUrl, '--quiet'])
      assert.equal(rerun.code, 0, rerun.stderr)
      assert.equal(rerun.stderr, '', '--quiet writes nothing on success')
      await expectRepo(again, files.map(file => file.path))
      assert.equal(hub.cdn.bytesServed, served, 'the second node took every LFS file from the first')
    } finally {
      await second.stop()
    }
  })

  it('--include keeps only the matching files, in every folder', async () => {
    const out = join(work, 'json')
    const run = await get([`hf://${repo}`, '-O', out, '--include', '*.json', '--node', first.proxyUrl])
    assert.equal(run.code, 0, run.stderr)
    await expectRepo(out, ['config.json', 'tokenizer/tokenizer.json'])
  })

  it('downloads one file, a folder, and a dataset file into the current directory by default', async () => {
    const cwd = join(work, 'cwd')
    const one = await get([`hf://${repo}/tokenizer/vocab.txt`, '--node', first.proxyUrl, '-O', `${cwd}/`])
    assert.equal(one.code, 0, one.stderr)
    assert.equal(one.stdout, `${join(cwd, 'vocab.txt')}\n`)
    const folder = await get([`hf://${repo}/tokenizer`, '--node', first.proxyUrl], {}, cwd)
    assert.equal(folder.code, 0, folder.stderr)
    const dataset = await get(['hf://datasets/acme/data/train/part-0.parquet', '--node', first.proxyUrl], {}, cwd)
    assert.equal(dataset.code, 0, dataset.stderr)
    assert.deepEqual(await listFiles(cwd), ['get-demo/tokenizer/tokenizer.json', 'get-demo/tokenizer/vocab.txt', 'part-0.parquet', 'vocab.txt'])
    assert.equal(await sha256File(join(cwd, 'part-0.parquet')), hub.file('datasets/acme/data', 'train/part-0.parquet').sha256)
  })

  it('--hf-cache lays files out as huggingface_hub does: blobs by ETag, snapshot symlinks, refs/main', async () => {
    const env = { HF_HOME: join(work, 'hf-cache-home') }
    const run = await get([`hf://${repo}`, '--hf-cache', '--node', first.proxyUrl], env)
    assert.equal(run.code, 0, run.stderr)
    const repoFolder = join(env.HF_HOME, 'hub', 'models--acme--get-demo')
    const commit = (await readFile(join(repoFolder, 'refs', 'main'), 'utf8'))
    assert.match(commit, /^[0-9a-f]{40}$/, 'refs/main holds the commit, no newline')
    assert.equal(run.stdout, `${join(repoFolder, 'snapshots', commit)}\n`)
    const blobs = (await readdir(join(repoFolder, 'blobs'))).sort()
    const expectedBlobs = files.map(file => {
      const info = hub.file(repo, file.path)
      return info.lfs ? info.sha256 : info.gitSha1
    }).sort()
    assert.deepEqual(blobs, expectedBlobs, 'LFS blobs are named by sha256, git files by their blob id')
    for (const file of files) {
      const pointer = join(repoFolder, 'snapshots', commit, file.path)
      assert.ok((await lstat(pointer)).isSymbolicLink(), file.path)
      assert.ok(!(await readlink(pointer)).startsWith('/'), 'relative link')
      assert.equal(await sha256File(pointer), hub.file(repo, file.path).sha256, file.path)
    }
    // The JS port of huggingface_hub's cache scanner reads the layout as its own.
    const scanned = await scanCacheDir(join(env.HF_HOME, 'hub'))
    assert.deepEqual(scanned.warnings, [])
    assert.deepEqual(scanned.repos.map(entry => entry.id), [{ name: repo, type: 'model' }])
    const [revision] = scanned.repos[0]?.revisions ?? []
    assert.equal(revision?.commitOid, commit)
    assert.deepEqual(revision?.refs, ['main'])
    // It reads the snapshot's top level only (Python's scan_cache_dir also walks subfolders).
    const topLevel = files.filter(file => !file.path.includes('/'))
    assert.deepEqual(revision?.files.map(file => relative(revision.path, file.path)).sort(), topLevel.map(file => file.path).sort())
    for (const file of revision?.files ?? []) assert.equal(relative(repoFolder, file.blob.path).split('/')[0], 'blobs')
    assert.equal(revision?.size, topLevel.reduce((sum, file) => sum + file.size, 0))
    const again = await get([`hf://${repo}`, '--hf-cache', '--node', first.proxyUrl], env)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stderr, /0 files downloaded .*; 5 already in the cache/)
  })

  it('a private repo: exit 1 with the 401 named without a token, byte-exact with HF_TOKEN', async () => {
    const out = join(work, 'secret')
    const refused = await get(['hf://acme/secret', '-O', out, '--node', first.proxyUrl])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /hf:\/\/acme\/secret at main: HTTP 401 \(X-Error-Code: RepoNotFound; Repository not found\).*HF_TOKEN/)
    assert.equal(refused.stdout, '')
    const allowed = await get(['hf://acme/secret', '-O', out, '--node', first.proxyUrl], { HF_TOKEN: secretToken })
    assert.equal(allowed.code, 0, allowed.stderr)
    await expectRepo(out, ['config.json', 'model.safetensors'], 'acme/secret')
  })

  it('shows progress bars on a terminal', { skip: skipUnless('script') }, async () => {
    hub.setBandwidth({ total: 4 * MiB })
    try {
      const out = join(work, 'slow')
      const run = await getOnTerminal(['hf://acme/slow', '-O', out, '--node', first.proxyUrl])
      assert.equal(run.code, 0, run.stdout)
      // script puts stdout and stderr on the one terminal.
      assert.match(run.stdout, /\r\x1b\[2A\x1b\[J\[[#-]+\] +\d+% model\.safetensors +[\d.]+ [KM]iB \/ 6\.0 MiB/)
      assert.match(run.stdout, /\d\/1 files/)
      assert.match(run.stdout, /1 file downloaded \(6\.0 MiB\)/)
      await expectRepo(out, ['model.safetensors'], 'acme/slow')
    } finally {
      hub.setBandwidth({})
    }
  })

  it('starts a node in-process when none runs, and still downloads byte-exact', async () => {
    const dataDir = join(work, 'in-process-node')
    const out = join(work, 'fresh')
    const node = `http://127.0.0.1:${await closedPort()}`
    const run = await get(['hf://acme/fresh', '-O', out, '--node', node, '--registry', hub.hubUrl, '--data-dir', dataDir,
      '--proxy-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--data-listen', '127.0.0.1:0'])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stderr, new RegExp(`no node answers at ${node}: started one in this process`))
    await expectRepo(out, ['config.json', 'model.safetensors'], 'acme/fresh')
    // The node kept the file in its own data dir, and wrote node.json as any node does.
    assert.ok((await readdir(join(dataDir, 'tasks'))).length >= 1)
  })

  it('fetches a plain URL through the node as an HTTP proxy', async () => {
    const file = hub.file(repo, 'weights/extra.bin')
    hub.resetStats()
    const destination = join(work, 'url', 'extra.bin')
    const run = await get([hub.signedUrl(repo, 'weights/extra.bin'), '-O', destination, '--node', first.proxyUrl])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(await sha256File(destination), file.sha256)
    assert.equal(hub.cdn.bytesServed, 0, 'the node served it from its cache: the URL went through the node')
  })

  it('a failed download: exit 1 with the status and X-Dragonfly-Error-Type, and no file left', async () => {
    const out = join(work, 'broken')
    hub.setFaults({ failNextRequests: { count: 100, status: 503 } })
    try {
      const run = await get(['hf://acme/broken', '-O', out, '--node', first.proxyUrl, '--jobs', '1'])
      assert.equal(run.code, 1)
      assert.match(run.stderr, /hf:\/\/acme\/broken\/model\.safetensors: HTTP (503|502) \(X-Dragonfly-Error-Type: backend/)
      assert.match(run.stderr, /0 files downloaded.*; 1 failed/)
      assert.deepEqual(await listFiles(out).catch(() => []), [], 'no file, not even a temporary one')
    } finally {
      hub.setFaults({})
    }
    const missing = await get([`hf://${repo}/nope.bin`, '--node', first.proxyUrl])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /hf:\/\/acme\/get-demo\/nope\.bin: no such file or folder/)
  })

  it('usage errors exit 2, a node address that is no node exits 3', async () => {
    // The exit status as a script sees it, once; the other cases call the command in this process.
    const noTarget = await get([])
    assert.equal(noTarget.code, 2)
    assert.match(noTarget.stderr, /damselfly get: no target/)
    for (const args of [['hf://acme'], [`hf://${repo}`, '--hf-cache', '-O', 'x'], [`hf://${repo}`, '--jobs', '0'], [`hf://${repo}`, '--bogus'],
      [`hf://${repo}@v1`, '--revision', 'v2'], [hub.signedUrl(repo, 'model.safetensors'), '--include', '*.json'], [`hf://${repo}`, '--role', 'boss', '--node', first.proxyUrl], ['http://127.0.0.1:9/', '--node', first.proxyUrl]]) {
      const run = await getInProcess(args)
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stderr, /^damselfly get: /)
    }
    const notANode = await getInProcess([`hf://${repo}`, '--node', hub.hubUrl])
    assert.equal(notANode.code, 3)
    assert.match(notANode.stderr, /answers but is not a Damselfly node/)
    const help = await getInProcess(['--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /Exit status:/)
  })
})
