/**
 * Every script under scripts/ answers --help with its options (exit 0) and an unknown option
 * with one clear line (exit 2), never a stack trace. Cheap: nothing is started.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './helpers/repo-root.js'

const run = promisify(execFile)
const folder = join(repoRoot(), 'dist', 'scripts')
const scripts = readdirSync(folder).filter(name => name.endsWith('.js')).map(name => name.slice(0, -3))

async function outcome (script: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(folder, `${script}.js`), ...args], { timeout: 60_000 })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code?: number, stdout?: string, stderr?: string }
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' }
  }
}

const refusalChecked = new Set(['bench-load', 'fake-hub'])

// Concurrent: each case is a fresh node process doing nothing but start-up.
describe('scripts: --help and bad options', { concurrency: 4 }, () => {
  it('finds the scripts', () => {
    assert.ok(scripts.includes('bench-load') && scripts.includes('fake-hub'), scripts.join(', '))
  })

  for (const script of scripts) {
    it(`${script} --help lists its options`, async () => {
      const { code, stdout, stderr } = await outcome(script, ['--help'])
      assert.equal(code, 0, stderr)
      assert.match(stdout, new RegExp(`^Usage: node dist/scripts/${script}\\.js`))
      assert.match(stdout, /^ {2}--[a-z]/m)
      assert.match(stdout, /-h, --help/)
    })

    // The refusal is scriptArgs' own code, which every script's --help above proves it calls;
    // two scripts check it end to end (a process each costs ~0.7 s of CPU on npm test's budget).
    if (!refusalChecked.has(script)) continue
    it(`${script} refuses an unknown option with exit 2`, async () => {
      const { code, stdout, stderr } = await outcome(script, ['--no-such-option'])
      assert.equal(code, 2, stdout + stderr)
      assert.match(stderr, new RegExp(`^${script}: Unknown option '--no-such-option'`))
      assert.doesNotMatch(stderr, /\n\s+at /, 'a stack trace')
    })
  }
})
