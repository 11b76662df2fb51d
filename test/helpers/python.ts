import { execFile, execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './repo-root.js'

const found = new Map<string, string | null>()

/** The first Python that has `module` (the image's, or Debian's /usr/bin/python3), or null. */
export function pythonWith (module: string): string | null {
  const known = found.get(module)
  if (known !== undefined) return known
  let result: string | null = null
  for (const candidate of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(candidate, ['-c', `import ${module}`], { stdio: 'ignore' })
      result = candidate
      break
    } catch {}
  }
  found.set(module, result)
  return result
}

/** The first Python that has `requests` (the image's, or Debian's python3-requests). */
export function pythonWithRequests (): string {
  const python = pythonWith('requests')
  if (python === null) throw new Error('no python3 with the requests module: install python3-requests (.ci/run does)')
  return python
}

/** Runs one of test/clients/*.py with a Python that has `module` and parses the JSON it prints. */
export async function runPythonClient<T> (script: string, args: string[], env: Record<string, string> = {}, module = 'requests'): Promise<T> {
  const python = pythonWith(module)
  if (python === null) throw new Error(`no python3 with the ${module} module: install python3-${module} (.ci/run does)`)
  const { stdout } = await promisify(execFile)(python, [join(repoRoot(), 'test', 'clients', script), ...args], {
    env: { ...process.env, ...env },
    timeout: 120_000
  })
  return JSON.parse(stdout) as T
}
