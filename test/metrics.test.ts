import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub, type FakeHub } from './fixtures/fake-hub/index.js'
import { curl } from './helpers/clients.js'
import { startNode, type RunningNode } from './helpers/nodes.js'
import { parsePrometheusText, sampleValue, type MetricFamily } from './helpers/prometheus-text.js'
import { nodeStatus } from './helpers/status.js'
import { waitFor } from './helpers/wait.js'
import { skipUnless } from './helpers/system-tools.js'

const MiB = 1024 * 1024

async function scrape (node: RunningNode): Promise<Map<string, MetricFamily>> {
  const response = await fetch(`http://${node.info.admin}/metrics`)
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  return parsePrometheusText(await response.text())
}

/** The value of a series that must be there. */
function value (families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const found = sampleValue(families, name, labels)
  assert.notEqual(found, undefined, `${name}${JSON.stringify(labels)} is missing`)
  return found!
}

function sum (families: Map<string, MetricFamily>, name: string): number {
  return (families.get(name)?.samples ?? []).reduce((total, sample) => total + sample.value, 0)
}

describe('metrics across a two-node download', { skip: skipUnless('curl') }, () => {
  let hub: FakeHub
  let a: RunningNode
  let b: RunningNode

  before(async () => {
    hub = await startFakeHub({ repos: [{ id: 'acme/metrics', files: [{ path: 'model.bin', size: 48 * MiB + 777 }] }] })
    // Both nodes in this one process: each has its own registry, so neither sees the other's counts.
    a = await startNode()
    b = await startNode(['--bootstrap', a.info.multiaddrs[0]!])
    await waitFor('B to connect to A', async () => (await nodeStatus(b.info.admin)).peers.includes(a.info.peerId))
  })

  after(async () => {
    await Promise.all([a, b].map(async node => await node?.stop()))
    await hub?.close()
  })

  it('count origin bytes on the node that fetched, peer and upload bytes on the other, in valid exposition format', async () => {
    const file = hub.file('acme/metrics', 'model.bin')
    hub.resetStats()

    const first = await curl(hub.signedUrl('acme/metrics', 'model.bin'), { proxy: a.proxyUrl })
    assert.equal(first.sha256, file.sha256)
    // The client has every byte a moment before the task's last checkpoint ends it.
    const afterA = await waitFor('the task to end on A', async () => {
      const families = await scrape(a)
      return sampleValue(families, 'damselfly_active_tasks') === 0 ? families : undefined
    })
    assert.equal(value(afterA, 'damselfly_bytes_total', { source: 'origin' }), file.size)
    assert.equal(value(afterA, 'damselfly_bytes_total', { source: 'peer' }), 0)
    assert.equal(value(afterA, 'damselfly_proxy_requests_total', { result: 'miss' }), 1)
    assert.equal(value(afterA, 'damselfly_client_bytes_total'), file.size)
    const pieces = (await nodeStatus(a.info.admin)).tasks[0]!.pieces
    assert.equal(value(afterA, 'damselfly_piece_fetch_seconds_count', { source: 'origin' }), pieces)
    // The node's count of origin answers, by status, is what the CDN says it answered.
    const cdnStatuses = Object.fromEntries(Object.entries(hub.cdn.statusCounts).map(([status, count]) => [status, count]))
    const nodeStatuses = Object.fromEntries((afterA.get('damselfly_origin_requests_total')?.samples ?? []).map(sample => [sample.labels.status, sample.value]))
    assert.deepEqual(nodeStatuses, cdnStatuses)
    assert.equal(value(afterA, 'damselfly_cache_bytes'), file.size)
    assert.equal(value(afterA, 'damselfly_tasks', { status: 'complete' }), 1)
    assert.equal(value(afterA, 'damselfly_active_tasks'), 0)

    hub.resetStats()
    const second = await curl(hub.signedUrl('acme/metrics', 'model.bin'), { proxy: b.proxyUrl })
    assert.equal(second.sha256, file.sha256)
    assert.equal(hub.cdn.bytesServed, 0)
    const onB = await waitFor('the task to end on B', async () => {
      const families = await scrape(b)
      return sampleValue(families, 'damselfly_active_tasks') === 0 ? families : undefined
    })
    const onA = await scrape(a)
    assert.equal(value(onB, 'damselfly_bytes_total', { source: 'peer' }), file.size)
    assert.equal(value(onB, 'damselfly_bytes_total', { source: 'origin' }), 0)
    assert.equal(sum(onB, 'damselfly_origin_requests_total'), 0)
    assert.equal(value(onB, 'damselfly_proxy_requests_total', { result: 'miss' }), 1)
    assert.ok(value(onB, 'damselfly_piece_fetch_seconds_count', { source: 'peer' }) >= pieces)
    assert.ok(value(onB, 'damselfly_peers_connected') >= 1)
    const uploaded = value(onA, 'damselfly_upload_bytes_total')
    assert.ok(uploaded >= file.size && uploaded <= file.size * 1.25, `A uploaded ${uploaded} bytes of a ${file.size}-byte file`)
    assert.equal(value(onA, 'damselfly_bytes_total', { source: 'origin' }), file.size, 'A fetched nothing more')
    // Node process metrics come along, in the same registry.
    assert.equal(onA.get('process_cpu_seconds_total')?.type, 'counter')
    assert.equal(onA.get('nodejs_heap_size_used_bytes')?.type, 'gauge')
    const info = onA.get('damselfly_info')?.samples ?? []
    assert.equal(info.length, 1)
    assert.equal(info[0]!.labels.peer_id, a.info.peerId)
    assert.equal(info[0]!.value, 1)

    // `?name=` narrows the answer to the metrics named (a benchmark's cheap, frequent read).
    const narrowed = await fetch(`http://${a.info.admin}/metrics?name=damselfly_upload_bytes_total&name=damselfly_bytes_total&name=no_such_metric`)
    assert.equal(narrowed.status, 200)
    const only = parsePrometheusText(await narrowed.text())
    assert.deepEqual([...only.keys()].sort(), ['damselfly_bytes_total', 'damselfly_upload_bytes_total'])
    assert.equal(value(only, 'damselfly_upload_bytes_total'), uploaded)
    assert.equal(value(only, 'damselfly_bytes_total', { source: 'origin' }), file.size)
  })

  it('count a cache hit as local bytes, and passthrough, rejected and failed requests by their result', async () => {
    const file = hub.file('acme/metrics', 'model.bin')
    const before = await scrape(a)
    const hit = await curl(hub.signedUrl('acme/metrics', 'model.bin'), { proxy: a.proxyUrl })
    assert.equal(hit.headers['x-dragonfly-task-download-finished'], 'true')
    const head = await curl(hub.signedUrl('acme/metrics', 'model.bin'), { proxy: a.proxyUrl, method: 'HEAD' })
    assert.equal(head.status, 200)
    const badRange = await curl(hub.signedUrl('acme/metrics', 'model.bin'), { proxy: a.proxyUrl, headers: { range: 'bytes=oops' } })
    assert.equal(badRange.status, 400)
    const missing = await curl(hub.signedUrl('acme/metrics', 'model.bin').replace(/[0-9a-f]{64}\?/, `${'0'.repeat(64)}?`), { proxy: a.proxyUrl })
    assert.ok(missing.status >= 400 && missing.status < 500, `a missing file answered ${missing.status}`)
    // A request is counted when its answer ends on the node, which can be just after curl is done.
    const counted = (families: Map<string, MetricFamily>, result: string): number =>
      value(families, 'damselfly_proxy_requests_total', { result }) - value(before, 'damselfly_proxy_requests_total', { result })
    const now = await waitFor('the four requests to be counted', async () => {
      const families = await scrape(a)
      return ['hit', 'passthrough', 'rejected', 'error'].every(result => counted(families, result) >= 1) ? families : undefined
    })
    const delta = (name: string, labels: Record<string, string>): number => value(now, name, labels) - value(before, name, labels)
    assert.equal(delta('damselfly_proxy_requests_total', { result: 'hit' }), 1)
    assert.equal(delta('damselfly_bytes_total', { source: 'local' }), file.size)
    assert.equal(delta('damselfly_proxy_requests_total', { result: 'passthrough' }), 1)
    assert.equal(delta('damselfly_proxy_requests_total', { result: 'rejected' }), 1)
    assert.equal(delta('damselfly_proxy_requests_total', { result: 'error' }), 1)
    assert.equal(delta('damselfly_bytes_total', { source: 'origin' }), 0)
    assert.ok(value(now, 'damselfly_origin_requests_total', { status: String(missing.status) }) >= 1)
  })
})
