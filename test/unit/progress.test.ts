import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Progress } from '../../src/get/progress.js'
import { formatBytes, formatDuration, RateMeter } from '../../src/cli/units.js'

const MiB = 1024 * 1024

function recorder (live: boolean, quiet = false, intervalMs = 60_000): { progress: Progress, output: () => string, tick: (ms: number) => void } {
  let text = ''
  let now = 0
  const progress = new Progress({ write: (chunk) => { text += chunk }, live, quiet, columns: () => 100, intervalMs, now: () => now })
  return { progress, output: () => text, tick: (ms) => { now += ms } }
}

describe('progress display', () => {
  it('off a terminal: no frames, one summary line naming counts, bytes and where', () => {
    const { progress, output, tick } = recorder(false)
    progress.plan(3, 10 * MiB)
    progress.start('0', 'model.safetensors', 8 * MiB)
    progress.advance('0', 8 * MiB)
    progress.finish('0', 'downloaded', 8 * MiB)
    progress.start('1', 'config.json', 2 * MiB)
    progress.finish('1', 'cached', 2 * MiB)
    progress.start('2', 'broken.bin')
    progress.message('damselfly get: broken.bin: HTTP 502')
    progress.finish('2', 'failed', 0)
    tick(2000)
    progress.close('/out')
    assert.equal(output(), 'damselfly get: broken.bin: HTTP 502\ndamselfly get: 1 file downloaded (8.0 MiB) in 2.0 s, 4.0 MiB/s; 1 already in the cache; 1 failed\n')
  })

  it('quiet: nothing but messages', () => {
    const { progress, output } = recorder(false, true)
    progress.plan(1, 1)
    progress.message('damselfly get: x: HTTP 404')
    progress.close('/out')
    assert.equal(output(), 'damselfly get: x: HTTP 404\n')
  })

  it('on a terminal: frames that redraw the bars in place, finished files scrolled above', async () => {
    const { progress, output, tick } = recorder(true, false, 5)
    progress.plan(2, 4 * MiB)
    progress.start('0', 'a.bin', 2 * MiB)
    progress.start('1', 'b.bin', 2 * MiB)
    await sleep(30)
    tick(1000)
    progress.advance('0', MiB)
    progress.finish('1', 'downloaded', 2 * MiB)
    await sleep(30)
    progress.stop()
    const frames = output()
    // Three lines drawn (two files, the whole), then each frame goes back up over them.
    assert.match(frames, /^\r\x1b\[J\[-+\] +0% a\.bin {2}0 B \/ 2\.0 MiB/)
    assert.match(frames, /\r\x1b\[3A\x1b\[Jdone +b\.bin {2}2\.0 MiB\n\[#+-+\] +50% a\.bin {2}1\.0 MiB \/ 2\.0 MiB {2}1\.0 MiB\/s {2}ETA 1\.0 s\n\[#+-+\] +75% 1\/2 files {2}3\.0 MiB \/ 4\.0 MiB/)
    // The last frame clears the bars.
    assert.match(frames, /\r\x1b\[2A\x1b\[J$/)
  })

  it('formats sizes, durations and rates', () => {
    assert.equal(formatBytes(512), '512 B')
    assert.equal(formatBytes(1536), '1.5 KiB')
    assert.equal(formatBytes(3 * 1024 * MiB), '3.0 GiB')
    assert.equal(formatDuration(2.25), '2.3 s')
    assert.equal(formatDuration(75), '1m15s')
    assert.equal(formatDuration(7260), '2h01m')
    const meter = new RateMeter(3000)
    meter.sample(0, 0)
    assert.equal(meter.sample(1000, MiB), MiB)
    assert.equal(meter.sample(5000, 5 * MiB), MiB)
  })
})
