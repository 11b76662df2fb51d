/**
 * Signals and `damselfly start` (src/cli/stop-signals.ts): a stop that hangs is ended at once by
 * a second signal, with the signal's exit status, or by the stop deadline with status 1.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { repoRoot } from './helpers/repo-root.js'
import { waitFor } from './helpers/wait.js'

interface Stuck {
  child: ChildProcess
  stderr: () => string
  exited: Promise<number | null>
}

async function startStuck (deadlineMs: number): Promise<Stuck> {
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'test', 'fixtures', 'stuck-stop.js'), String(deadlineMs)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<number | null>(resolve => {
    child.on('exit', (code) => {
      process.off('exit', killOnExit)
      resolve(code)
    })
  })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  assert.equal(line.toString(), 'ready\n')
  return { child, stderr: () => stderr, exited }
}

describe('signals during a stop', () => {
  for (const [second, status] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`a second ${second} exits at once with status ${status} while the stop hangs`, async () => {
      const stuck = await startStuck(60_000)
      stuck.child.kill('SIGTERM')
      await waitFor('the stop to begin', () => stuck.stderr().includes('stopping'))
      // Stuck: the first signal alone does not end it.
      assert.equal(stuck.child.exitCode, null)
      const sent = performance.now()
      stuck.child.kill(second)
      assert.equal(await stuck.exited, status, stuck.stderr())
      assert.match(stuck.stderr(), /second signal: exiting now/)
      // "At once": nothing waits on the hung stop or its 60 s deadline.
      assert.ok(performance.now() - sent < 30_000)
    })
  }

  it('a stop that overruns its deadline exits with status 1', async () => {
    const stuck = await startStuck(300)
    stuck.child.kill('SIGTERM')
    assert.equal(await stuck.exited, 1, stuck.stderr())
    assert.match(stuck.stderr(), /the stop did not finish in time/)
  })
})
