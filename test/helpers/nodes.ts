import '../../src/polyfill.js'
import { appendFileSync } from 'node:fs'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { nodeFlags, tunedEnvironment } from '../../src/cli/process-tuning.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger, silentLogger } from '../../src/logging/logger.js'
import { DamselflyNode, type NodeInfo } from '../../src/node.js'
import { repoRoot } from './repo-root.js'

/**
 * Flags every test node gets: loopback only, ephemeral ports (the data port too), its own data dir, and the fake
 * Hub's host (127.0.0.1) as an allowed upstream. A test's own --allowed-upstreams adds to it.
 */
/** `flags` without `name` and its value. */
function withoutFlag (flags: string[], name: string): string[] {
  const at = flags.indexOf(name)
  return at === -1 ? flags : [...flags.slice(0, at), ...flags.slice(at + 2)]
}

/**
 * For tracing a benchmark or a test by hand: DAMSELFLY_TRACE_DIR=<folder> writes each node's log
 * there (one file per node, JSON lines), at DAMSELFLY_TRACE_LEVEL (default debug).
 */
const traceDir = process.env.DAMSELFLY_TRACE_DIR
const traceLevel = traceDir === undefined ? undefined : process.env.DAMSELFLY_TRACE_LEVEL ?? 'debug'

function testFlags (dataDir: string, extra: string[]): string[] {
  return [
    '--data-dir', dataDir,
    '--allowed-upstreams', '127.0.0.1',
    '--proxy-listen', '127.0.0.1:0',
    '--admin-listen', '127.0.0.1:0',
    '--p2p-listen', '/ip4/127.0.0.1/tcp/0',
    '--data-listen', '127.0.0.1:0',
    '--log-level', traceLevel ?? 'warn',
    ...extra
  ]
}

export async function tempDir (prefix = 'damselfly-test-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

export interface RunningNode {
  info: NodeInfo
  proxyUrl: string
  dataDir: string
  stop: () => Promise<void>
}

/** A node inside the test process: quick to start, for tests that do not kill it. */
export async function startNode (extraFlags: string[] = [], dataDir?: string): Promise<RunningNode> {
  const folder = dataDir ?? await tempDir()
  const config = await loadConfig({ argv: testFlags(folder, extraFlags), env: {} })
  const logger = process.env.DEBUG === undefined ? silentLogger : createLogger({ level: 'debug' })
  const node = new DamselflyNode({ logger }, config)
  const info = await node.start()
  return {
    info,
    proxyUrl: `http://${info.proxy}`,
    dataDir: folder,
    stop: async () => {
      await node.stop()
      if (dataDir === undefined) await rm(folder, { recursive: true, force: true })
    }
  }
}

export interface NodeProcess extends RunningNode {
  child: ChildProcess
  /** Everything the process wrote to stderr so far. */
  stderr: () => string
  exited: Promise<number | null>
}

/**
 * A node as its own process, started through the installed command, as a user would.
 * `prefix` runs it through a launcher that ends in exec, e.g. ['ip', 'netns', 'exec', 'ns1'],
 * so that the child's pid is still the node's. `bin` runs another build (an older release's).
 */
export async function spawnNode (extraFlags: string[] = [], dataDir?: string, env: Record<string, string> = {}, prefix: string[] = [], bin = join(repoRoot(), 'bin', 'damselfly.js'), nodeArgs: string[] = []): Promise<NodeProcess> {
  const folder = dataDir ?? await tempDir()
  await rm(join(folder, 'node.json'), { force: true })
  const thisBuild = bin === join(repoRoot(), 'bin', 'damselfly.js')
  // An older release (the mixed swarm's real 0.1.0) knows no flag added since: no data port.
  const flags = thisBuild ? testFlags(folder, extraFlags) : withoutFlag(testFlags(folder, extraFlags), '--data-listen')
  const [command, ...args] = [...prefix, process.execPath, ...nodeFlags, ...nodeArgs, bin, 'start', ...flags]
  const child = spawn(command!, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Started as the image and `npm start` start a node (process-tuning.ts), so that what the
    // benchmarks measure is what runs.
    env: tunedEnvironment({ ...process.env, DAMSELFLY_LOG_LEVEL: traceLevel, DAMSELFLY_LOG_FORMAT: traceLevel === undefined ? undefined : 'json', ...env })
  })
  // A failed assertion must not leave a node running that keeps the test process alive.
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  let stderr = ''
  const traceFile = traceDir === undefined ? undefined : join(traceDir, `${Date.now()}-${Math.random().toString(36).slice(2, 6)}.log`)
  child.stderr?.on('data', (chunk: Buffer) => {
    if (traceFile !== undefined) appendFileSync(traceFile, chunk)
    else stderr += chunk.toString()
  })
  const exited = new Promise<number | null>(resolve => {
    child.on('exit', (code) => {
      process.off('exit', killOnExit)
      resolve(code)
    })
  })
  let info: NodeInfo | undefined
  for (let waited = 0; info === undefined; waited += 50) {
    if (child.exitCode !== null) throw new Error(`node exited with ${child.exitCode}: ${stderr}`)
    if (waited > 30_000) {
      child.kill('SIGKILL')
      throw new Error(`node did not write node.json in 30 s: ${stderr}`)
    }
    info = await readFile(join(folder, 'node.json'), 'utf8').then(text => JSON.parse(text) as NodeInfo, () => undefined)
    if (info === undefined) await sleep(50)
  }
  return {
    info,
    proxyUrl: `http://${info.proxy}`,
    dataDir: folder,
    child,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
      if (dataDir === undefined) await rm(folder, { recursive: true, force: true })
    }
  }
}
