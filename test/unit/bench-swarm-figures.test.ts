/**
 * bench-swarm's arithmetic, on hand-made inputs: the fluid bound with a slow host, the counters
 * read from a /metrics text, a counter's value between samples, and each host's upload use.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lowerBoundSeconds } from '../../scripts/bench-swarm/bound.js'
import { parseCounters } from '../../scripts/bench-swarm/sampler.js'
import { valueAt, type HostSeries } from '../../scripts/bench-swarm/upload-trace.js'
import { uploadUse } from '../../scripts/bench-swarm/upload-use.js'
import { receivedFigures } from '../../scripts/bench-swarm/received.js'

const MB = 1e6

describe('bench-swarm figures', () => {
  it('T* counts each host\'s real upload: one slow host lowers Σu', () => {
    const size = 64 * 2 ** 20
    const equal = lowerBoundSeconds({ size, originUp: 10 * MB, hostUps: Array(8).fill(5 * MB), hostDown: 20 * MB })
    assert.equal(equal, 8 * size / (50 * MB))
    const slow = lowerBoundSeconds({ size, originUp: 10 * MB, hostUps: [...Array(7).fill(5 * MB), 1 * MB], hostDown: 20 * MB })
    assert.equal(slow, 8 * size / (46 * MB))
    // One host: the origin's upload binds.
    assert.equal(lowerBoundSeconds({ size, originUp: 10 * MB, hostUps: [5 * MB], hostDown: 20 * MB }), size / (10 * MB))
  })

  it('reads the upload, per-source and wasted byte counters from a Prometheus text (wasted summed over its reasons), 0 for one missing', () => {
    const text = [
      'damselfly_peer_bytes_wasted_total{reason="duplicate"} 1048576',
      'damselfly_peer_bytes_wasted_total{reason="failed"} 0',
      'damselfly_peer_bytes_wasted_total{reason="discarded"} 65536',
      '# HELP damselfly_upload_bytes_total Piece bytes served to peers.',
      '# TYPE damselfly_upload_bytes_total counter',
      'damselfly_upload_bytes_total 8388608',
      'damselfly_bytes_total{source="origin"} 4194304',
      'damselfly_bytes_total{source="peer"} 12582912',
      'damselfly_bytes_total{source="local"} 99',
      'damselfly_client_bytes_total 1'
    ].join('\n')
    assert.deepEqual(parseCounters(text), [8388608, 12582912, 4194304, 1048576 + 65536])
    assert.deepEqual(parseCounters('damselfly_upload_bytes_total 5\n'), [5, 0, 0, 0])
  })

  it('a counter between two samples is read on the line between them', () => {
    const series: HostSeries = [[0, 0, 0, 0, 0, 0], [1, 100, 0, 0, 200, 0], [3, 300, 0, 0, 600, 0]]
    assert.equal(valueAt(series, 0.5, 1), 50)
    assert.equal(valueAt(series, 2, 1), 200)
    assert.equal(valueAt(series, 2, 4), 400)
    assert.equal(valueAt(series, 9, 1), 300)
  })

  it('upload use: bytes up by a host\'s own finish ÷ (its u × that time); a killed host has none', () => {
    const series: HostSeries[] = [
      // Host 0 sends 5 MB in its first 2 s (half of 5 MB/s), its link 6 MB.
      [[0, 0, 0, 0, 0, 0], [2, 5 * MB, 0, 0, 6 * MB, 0], [4, 10 * MB, 0, 0, 12 * MB, 0]],
      // Host 1 is killed: its counters stop.
      [[0, 0, 0, 0, 0, 0], [2, 1 * MB, 0, 0, 1 * MB, 0], [4, 1 * MB, 0, 0, 1 * MB, 0]]
    ]
    const use = uploadUse({ series, hostSeconds: [2, null], hostUps: [5 * MB, 5 * MB], lastHostSeconds: 2, originBytes: 9 * MB, originLinkBytes: 9.5 * MB, originUp: 10 * MB, killedHost: 1 })
    assert.deepEqual(use.use, [0.5, null])
    assert.deepEqual(use.linkUse, [0.6, null])
    assert.equal(use.meanUse, 0.5)
    assert.deepEqual(use.bytes, [10 * MB, 1 * MB])
    // (5 + 1 MB from the hosts by 2 s, 9 MB from the origin) ÷ (20 MB/s × 2 s).
    assert.equal(use.swarmUse, 0.375)
    assert.equal(use.swarmLinkUse, round3((6 + 1 + 9.5) / 40))
  })

  it('received ÷ file per host from the link\'s count at the round\'s end, a killed host left out; wasted bytes summed', () => {
    const size = 64 * MB
    const series: HostSeries[] = [
      [[0, 0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 70 * MB, 4 * MB]],
      [[0, 0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 80 * MB, 12 * MB]],
      [[0, 0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 66 * MB, 0]],
      // Killed: its counters stop, its link counted until then.
      [[0, 0, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 30 * MB, 1 * MB]],
      // A report written before the wasted counter: rows of six.
      [[0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 64 * MB]]
    ]
    const figures = receivedFigures(series, size, 3)
    assert.deepEqual(figures.perFile, [1.094, 1.25, 1.031, null, 1])
    assert.equal(figures.medianPerFile, 1.094)
    assert.equal(figures.maxPerFile, 1.25)
    assert.deepEqual(figures.wastedBytes, [4 * MB, 12 * MB, 0, 1 * MB, 0])
    assert.equal(figures.wastedTotal, 17 * MB)
    assert.equal(figures.wastedPerFile, 0.266)
    // A trace written before the counter: received only.
    const old = receivedFigures([[[0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 80 * MB]]], size)
    assert.deepEqual([old.perFile, old.wastedBytes, old.wastedTotal, old.wastedPerFile], [[1.25], null, null, null])
  })
})

function round3 (value: number): number {
  return Math.round(value * 1000) / 1000
}
