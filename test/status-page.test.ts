import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl, type DownloadResult } from './helpers/clients.js'
import { startNode, type RunningNode } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'
import { nodeStatus } from './helpers/status.js'
import { chromiumArgs, chromiumExecutable, skipUnless } from './helpers/system-tools.js'
import { waitFor } from './helpers/wait.js'

const MiB = 1024 * 1024

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize (png: Buffer): { width: number, height: number } {
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'not a PNG')
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR')
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) }
}

/** Run in the page (the tests compile without the DOM library, hence a string). */
const countOriginPixels = `(() => {
  const canvas = document.getElementById('chart')
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
  let count = 0
  for (let index = 0; index < pixels.length; index += 4) {
    if (Math.abs(pixels[index] - 0xf0) < 24 && Math.abs(pixels[index + 1] - 0xa0) < 24 && Math.abs(pixels[index + 2] - 0x30) < 24) count++
  }
  return count
})()`

describe('the /status page in headless Chromium', { skip: skipUnless('curl', 'chromium') }, () => {
  let hub: FakeHub
  let node: RunningNode
  let browser: Browser

  before(async () => {
    // Slow enough that the download is still running while the page is looked at.
    hub = await startFakeHub({ repos: [{ id: 'acme/page', files: [{ path: 'weights.safetensors', size: 24 * MiB }] }], cdnBytesPerSecond: 1 * MiB })
    node = await startNode(['--piece-size', '1MiB'])
    // Debian's chromium where installed (.ci/run), else the build the @sparticuz/chromium package ships.
    browser = await chromium.launch({ executablePath: await chromiumExecutable(), args: chromiumArgs })
  })

  after(async () => {
    await browser?.close()
    await node?.stop()
    await hub?.close()
  })

  it('shows a running download: its row, its piece strip coloured by source, throughput; then its end', async () => {
    const file = hub.file('acme/page', 'weights.safetensors')
    const download: Promise<DownloadResult> = curl(hub.signedUrl('acme/page', 'weights.safetensors'), { proxy: node.proxyUrl })
    const task = await waitFor('a few pieces to land', async () => {
      const found = (await nodeStatus(node.info.admin)).tasks[0]
      return found !== undefined && found.held >= 2 ? found : undefined
    }, 60_000)

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems: string[] = []
    page.on('console', message => { if (message.type() === 'error') problems.push(message.text()) })
    page.on('pageerror', error => { problems.push(error.message) })
    const response = await page.goto(`http://${node.info.admin}/status`)
    assert.equal(response?.status(), 200)

    const row = page.locator(`.task[data-task-id="${task.id}"]`)
    await row.waitFor({ timeout: 30_000 })
    assert.equal(await row.locator('.name').textContent(), 'weights.safetensors')
    assert.equal(await row.locator('.pill').textContent(), 'downloading')
    // The strip: pieces from the origin drawn, and some still to come.
    await row.locator('svg.strip rect[data-source="origin"]').first().waitFor({ timeout: 30_000 })
    assert.ok(await row.locator('svg.strip rect[data-source="missing"], svg.strip rect[data-source="arriving"]').count() > 0, 'a running download has pieces still to come')
    assert.equal(await page.locator('#peer-id').textContent(), node.info.peerId)
    // The throughput chart has drawn lines, not only its axes: origin-coloured pixels exist.
    await waitFor('the origin line on the chart', async () => await page.evaluate<number>(countOriginPixels) > 20, 15_000)

    const screenshot = await page.screenshot({ fullPage: true })
    const { width, height } = pngSize(screenshot)
    assert.equal(width, 1280)
    assert.ok(height >= 600, `screenshot height ${height}`)
    assert.ok(screenshot.length > 20_000, `a ${screenshot.length}-byte screenshot is too plain to show the page`)
    const folder = join(repoRoot(), 'results')
    await mkdir(folder, { recursive: true })
    await writeFile(join(folder, 'status-page.png'), screenshot)

    // Let it finish: the page follows the task to its end.
    hub.setBandwidth({})
    const result = await download
    assert.equal(result.sha256, file.sha256)
    await page.locator(`.task[data-task-id="${task.id}"] .pill`, { hasText: 'complete' }).waitFor({ timeout: 30_000 })
    await waitFor('the strip to show every piece held', async () => await row.locator('svg.strip rect[data-source="missing"], svg.strip rect[data-source="arriving"]').count() === 0, 15_000)
    assert.deepEqual(problems, [], 'the page logged errors (a CSP refusal shows up here)')
    await page.close()
  })
})
