/** bench-swarm's charts: the time to the last host against N, and each host's upload rate over a round. */
import { writeSvgChart } from '../lib/charts.js'
import { median, round } from '../lib/stats.js'
import { groups } from './report.js'
import type { RoundResult } from './round.js'

const MB = 1e6

export interface ChartRates {
  size: number
  originUp: number
  hostUp: number
  hostDown: number
}

/** Median of the runs' figure times per N and mode, beside T*. */
export async function writeCompletionChart (path: string, results: RoundResult[], rates: ChartRates): Promise<void> {
  const data = [
    // A round with an unfinished host has no completion time to draw.
    ...groups(results).flatMap(runs => {
      const times = runs.map(result => result.lastHostSeconds).filter(seconds => seconds !== null)
      return times.length === 0 ? [] : [{ hosts: runs[0]!.hosts, series: runs[0]!.mode === 'swarm' ? 'Damselfly swarm' : 'every host direct from the origin', seconds: median(times) }]
    }),
    ...groups(results).filter(runs => runs[0]!.mode === results[0]?.mode).map(runs => ({ hosts: runs[0]!.hosts, series: 'lower bound T*', seconds: runs[0]!.lowerBoundSeconds }))
  ]
  const hostCounts = [...new Set(results.map(result => result.hosts))]
  await writeSvgChart(path, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'N hosts start cold at once: seconds until the last one has the file (median of the runs)',
      subtitle: `file ${round(rates.size / MB)} MB; origin up ${round(rates.originUp / MB)} MB/s; each host up ${round(rates.hostUp / MB)} MB/s, down ${round(rates.hostDown / MB)} MB/s`
    },
    width: 480,
    height: 300,
    data: { values: data },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'hosts', type: 'quantitative', title: 'hosts (N)', axis: { values: hostCounts, format: 'd' } },
      y: { field: 'seconds', type: 'quantitative', title: 'seconds' },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
      strokeDash: { field: 'series', type: 'nominal', title: null }
    }
  })
}

/** Upload rate (MB/s) on each host's link between samples, for the first run of each swarm N. */
export function uploadRates (results: RoundResult[]): Array<{ round: string, host: string, seconds: number, mbPerSecond: number }> {
  return groups(results).filter(runs => runs[0]!.trace !== null).flatMap(runs => {
    const result = runs[0]!
    const label = `N = ${result.hosts}, run ${result.run}`
    return result.trace!.hosts.flatMap((samples, host) => {
      const name = host === result.killed?.host ? `host ${host} (killed)` : host === result.slowHost ? `host ${host} (slow)` : `host ${host}`
      let before = samples[0]
      return samples.slice(1).flatMap(sample => {
        const seconds = sample[0] - before![0]
        // Two samples taken at almost the same moment (a client finished) give no rate worth drawing.
        if (seconds < 0.2) return []
        const rate = { round: label, host: name, seconds: round(sample[0], 2), mbPerSecond: round((sample[4] - before![4]) / seconds / MB, 3) }
        before = sample
        return [rate]
      })
    })
  })
}

export async function writeUploadChart (path: string, results: RoundResult[], rates: ChartRates): Promise<boolean> {
  const data = uploadRates(results)
  if (data.length === 0) return false
  await writeSvgChart(path, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Each host\'s upload on its link over the swarm round (first run of each N)',
      subtitle: `bytes on the wire (the kernel's count), each host's link ${round(rates.hostUp / MB)} MB/s up; file ${round(rates.size / MB)} MB`
    },
    data: { values: data },
    facet: { row: { field: 'round', type: 'nominal', title: null } },
    spec: {
      width: 520,
      height: 180,
      mark: { type: 'line', interpolate: 'step-before', tooltip: true },
      encoding: {
        x: { field: 'seconds', type: 'quantitative', title: 'seconds since the clients started' },
        y: { field: 'mbPerSecond', type: 'quantitative', title: 'upload MB/s' },
        color: { field: 'host', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 4 } }
      }
    }
  })
  return true
}
