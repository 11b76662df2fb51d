import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './repo-root.js'
import { tool } from './system-tools.js'

/** Runs one of test/clients/*.py (they use `requests`: declare `skipUnless('python3+requests')`) and parses the JSON it prints. */
export async function runPythonClient<T> (script: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  const { stdout } = await promisify(execFile)(tool('python3+requests'), [join(repoRoot(), 'test', 'clients', script), ...args], {
    env: { ...process.env, ...env },
    timeout: 120_000
  })
  return JSON.parse(stdout) as T
}
