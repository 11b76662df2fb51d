import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { repoRoot } from '../../test/helpers/repo-root.js'

/** What dist/scripts/fake-hub.js prints once it listens. */
export interface FakeHubInfo {
  hubUrl: string
  statsUrl: string
  files: Array<{ path: string, size: number, sha256: string, resolveUrl: string }>
}

/**
 * Starts the fake Hub as its own process (its CPU is not the nodes'), through `prefix` when
 * given (e.g. ['ip', 'netns', 'exec', 'ns1']), and reads the URLs it prints.
 */
export async function startFakeHubProcess (args: string[], prefix: string[] = []): Promise<{ child: ChildProcess, info: FakeHubInfo }> {
  const [command, ...rest] = [...prefix, process.execPath, join(repoRoot(), 'dist', 'scripts', 'fake-hub.js'), ...args]
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const info = await new Promise<FakeHubInfo>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      try {
        resolve(JSON.parse(stdout) as FakeHubInfo)
      } catch {}
    })
    child.on('exit', code => { reject(new Error(`fake hub exited with ${code}: ${stderr}`)) })
  })
  return { child, info }
}
