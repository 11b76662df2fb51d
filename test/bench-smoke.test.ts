import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'

const run = promisify(execFile)

/**
 * The benchmark programs, run small so that they cannot rot. Timings are not asserted: only
 * that each finishes, prints its table and writes well-formed JSON.
 */
describe('benchmark smoke runs', () => {
  let folder: string

  before(async () => { folder = await tempDir('damselfly-bench-') })
  after(async () => { await rm(folder, { recursive: true, force: true }) })

  const script = (name: string): string => join(repoRoot(), 'dist', 'scripts', `${name}.js`)

  it('bench-memory', async () => {
    const out = join(folder, 'memory.json')
    const { stdout } = await run(process.execPath, [script('bench-memory'), '--size', '8MiB', '--clients', '2', '--out', out])
    assert.match(stdout, /peak RSS MB/)
    const report = JSON.parse(await readFile(out, 'utf8')) as { results: Array<{ byteExact: boolean, peakRssMB: number }> }
    assert.equal(report.results.length, 3)
    for (const result of report.results) {
      assert.equal(result.byteExact, true)
      assert.ok(result.peakRssMB > 0)
    }
  })

  it('bench-load', async () => {
    const out = join(folder, 'load.json')
    const { stdout } = await run(process.execPath, [script('bench-load'), '--clients', '10', '--requests', '100', '--out', out])
    assert.match(stdout, /peak RSS MiB/)
    const report = JSON.parse(await readFile(out, 'utf8')) as { wrong: number, errors: number, peakRssMiB: number }
    assert.equal(report.wrong, 0)
    assert.equal(report.errors, 0)
    assert.ok(report.peakRssMiB > 0)
  })

  it('bench-peer-transfer', async () => {
    const out = join(folder, 'peer.json')
    const { stdout } = await run(process.execPath, [script('bench-peer-transfer'), '--size', '8MiB', '--runs', '1', '--out', out])
    assert.match(stdout, /peer node ← seed/)
    const report = JSON.parse(await readFile(out, 'utf8')) as { rows: Array<{ medianMBps: number }> }
    assert.equal(report.rows.length, 4)
    for (const row of report.rows) assert.ok(row.medianMBps > 0)
  })

  it('bench-p2p', async () => {
    const out = join(folder, 'p2p.json')
    const { stdout } = await run(process.execPath, [script('bench-p2p'), '--size', '4MiB', '--runs', '1', '--paths', 'tcp,libp2p-stock', '--verify', '--out', out])
    assert.match(stdout, /libp2p-stock/)
    JSON.parse(await readFile(out, 'utf8'))
  })
})
