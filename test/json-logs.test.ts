import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { spawnNode } from './helpers/nodes.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

describe('--log-format json', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/logs', files: [{ path: 'data.bin', size: 4 * MiB }] }] })
  })

  after(async () => {
    await hub?.close()
  })

  it('writes one JSON object per line on stderr: time, level, component, msg, then the fields', async () => {
    const node = await spawnNode(['--log-format', 'json', '--log-level', 'info'])
    const file = hub.file('acme/logs', 'data.bin')
    try {
      assert.equal((await curl(hub.signedUrl('acme/logs', 'data.bin'), { proxy: node.proxyUrl })).sha256, file.sha256)
    } finally {
      await node.stop()
    }
    const lines = node.stderr().split('\n').filter(line => line !== '')
    const records = lines.map((line) => {
      const record = JSON.parse(line) as Record<string, unknown>
      assert.deepEqual(Object.keys(record).slice(0, 4), ['time', 'level', 'component', 'msg'], line)
      assert.ok(!Number.isNaN(Date.parse(String(record.time))) && String(record.time).endsWith('Z'), line)
      assert.ok(['debug', 'info', 'warn', 'error'].includes(String(record.level)), line)
      assert.match(String(record.component), /^damselfly(:[a-z0-9-]+)?$/, line)
      assert.equal(typeof record.msg, 'string', line)
      return record
    })
    const started = records.find(record => record.msg === 'node started')
    assert.equal(started?.component, 'damselfly:node')
    assert.equal(started?.peerId, node.info.peerId)
    assert.equal(started?.proxy, node.info.proxy)
    const complete = records.find(record => record.msg === 'task complete')
    assert.equal(complete?.bytes, file.size)
    assert.equal(typeof complete?.task, 'string')
    assert.ok(records.some(record => record.msg === 'node stopped'))
  })
})
