import { execFile, execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './repo-root.js'

let found: string | undefined

/** The first Python that has `requests` (the image's, or Debian's python3-requests). */
export function pythonWithRequests (): string {
  if (found !== undefined) return found
  for (const candidate of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(candidate, ['-c', 'import requests'], { stdio: 'ignore' })
      found = candidate
      return candidate
    } catch {}
  }
  throw new Error('no python3 with the requests module: install python3-requests (.ci/run does)')
}

/** Runs one of test/clients/*.py and parses the JSON it prints. */
export async function runPythonClient<T> (script: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  const { stdout } = await promisify(execFile)(pythonWithRequests(), [join(repoRoot(), 'test', 'clients', script), ...args], {
    env: { ...process.env, ...env },
    timeout: 120_000
  })
  return JSON.parse(stdout) as T
}
