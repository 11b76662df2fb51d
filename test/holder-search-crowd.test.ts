import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { startNode, type RunningNode } from './helpers/nodes.js'
import { nodeStatus } from './helpers/status.js'
import { skipUnless } from './helpers/system-tools.js'
import { waitFor } from './helpers/wait.js'

const MiB = 1024 * 1024

/**
 * A holder search asks every connected peer at once, each exchange listening on the search's
 * deadline signal: with more than 10 peers Node warned of a listener leak on every node's first
 * download (MaxListenersExceededWarning on its stderr). The nodes run in this process, so the
 * warning would reach this process's 'warning' event.
 */
describe('a node connected to a dozen peers', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let first: RunningNode
  const others: RunningNode[] = []
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(`${warning.name}: ${warning.message}`) }

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/crowd', files: [{ path: 'model.bin', size: 3 * MiB + 5 }] }] })
    first = await startNode()
    for (let n = 0; n < 12; n++) others.push(await startNode(['--bootstrap', first.info.multiaddrs[0]!]))
    await waitFor('the first node to see all twelve', async () => (await nodeStatus(first.info.admin)).peers.length >= 12)
    process.on('warning', onWarning)
  })

  after(async () => {
    process.off('warning', onWarning)
    await Promise.all([first, ...others].map(async node => await node.stop()))
    await hub.close()
  })

  it('downloads byte-exact, and its holder search among them warns of no listener leak', async () => {
    const file = hub.file('acme/crowd', 'model.bin')
    const result = await curl(hub.signedUrl('acme/crowd', 'model.bin'), { proxy: first.proxyUrl })
    assert.equal(result.error, undefined)
    assert.equal(result.status, 200)
    assert.equal(result.sha256, file.sha256)
    assert.deepEqual(warnings.filter(warning => warning.startsWith('MaxListenersExceededWarning')), [])
  })
})
