import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './repo-root.js'
import { tool, type ToolNeed } from './system-tools.js'

/**
 * Runs one of test/clients/*.py with a Python that has the module it imports (the test declares
 * the same need with `skipUnless`), and parses the JSON it prints.
 */
export async function runPythonClient<T> (script: string, args: string[], env: Record<string, string> = {}, python: Extract<ToolNeed, `python3+${string}`> = 'python3+requests'): Promise<T> {
  const { stdout } = await promisify(execFile)(tool(python), [join(repoRoot(), 'test', 'clients', script), ...args], {
    env: { ...process.env, ...env },
    timeout: 120_000
  })
  return JSON.parse(stdout) as T
}
