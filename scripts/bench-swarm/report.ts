/** bench-swarm's tables: every run, then each kind of round's median and range over its runs. */
import { printTable } from '../lib/report.js'
import { median, round } from '../lib/stats.js'
import type { RoundResult } from './round.js'

const percent = (share: number | null | undefined): string => share === null || share === undefined || Number.isNaN(share) ? '-' : `${Math.round(share * 100)} %`
const MB = 1e6

/** Received ÷ file, median / max over the hosts. */
function received (result: RoundResult): string {
  const figures = result.received
  if (figures === null || figures === undefined || figures.medianPerFile === null) return '-'
  return `${round(figures.medianPerFile, 2)} / ${round(figures.maxPerFile!, 2)}`
}

/** Piece bytes wasted, all hosts: MB (÷ file). */
function wasted (result: RoundResult): string {
  const figures = result.received
  if (figures === null || figures === undefined || figures.wastedTotal === null) return '-'
  return `${round(figures.wastedTotal / MB)} (${round(figures.wastedPerFile!, 2)}×)`
}

/** What a round's figure is: the slowest counted host ÷ T*, naming who is left out. */
export function figureName (result: Pick<RoundResult, 'slowHost' | 'killed'>): string {
  if (result.slowHost !== null && result.killed !== null) return 'slowest host but the slow and the killed one ÷ T*'
  if (result.slowHost !== null) return 'slowest other host ÷ its bound (T* with the slow upload)'
  if (result.killed !== null) return 'last surviving host ÷ T*'
  return 'last host ÷ T*'
}

function hostTimes (result: RoundResult): string {
  return result.hostSeconds.map((seconds, index) => {
    const mark = index === result.killed?.host ? 'killed' : index === result.slowHost ? 'slow:' : ''
    if (mark === 'killed') return `killed@${round(result.killed!.atSeconds, 1)}`
    return `${mark}${seconds === null ? 'stalled' : round(seconds, 1)}`
  }).join(' ')
}

/** One row per run. */
export function printRuns (results: RoundResult[]): void {
  const rows: Array<Array<string | number>> = [['N', 'mode', 'run', 'last s', 'T* s', '× T*', 'origin × file', 'byte-exact', 'peak RSS MB', 'node CPU s', 'nodes: machine', 'machine busy', 'saturated', 'upload use: node / link', 'received ÷ file: median / max', 'wasted MB (÷ file)', 'per host s']]
  for (const result of results) {
    rows.push([
      result.hosts, result.mode, result.run,
      result.lastHostSeconds ?? `${result.unfinishedHosts} unfinished`,
      round(result.lowerBoundSeconds, 2),
      result.overBound === null ? '-' : round(result.overBound, 2),
      result.originBytesPerFile,
      result.byteExact ? 'yes' : 'NO',
      result.peakRssMB.length > 0 ? Math.max(...result.peakRssMB) : '-',
      result.cpu === undefined ? '-' : round(result.cpu.nodeTotalSeconds, 1),
      percent(result.cpu?.nodeShareOfMachine),
      percent(result.cpu?.machineBusyShare),
      percent(result.cpu?.machineSaturatedShare),
      result.upload === null || result.upload === undefined ? '-' : `${percent(result.upload.meanUse)} / ${percent(result.upload.meanLinkUse)}`,
      received(result),
      wasted(result),
      hostTimes(result)
    ])
  }
  printTable(rows)
}

/** Rounds of the same N and mode, in the order first run. */
export function groups (results: RoundResult[]): RoundResult[][] {
  const byKey = new Map<string, RoundResult[]>()
  for (const result of results) {
    const key = `${result.hosts} ${result.mode}`
    byKey.set(key, [...(byKey.get(key) ?? []), result])
  }
  return [...byKey.values()]
}

const fixed = (value: number | null): string => value === null ? '-' : String(round(value, 2))
const range = (values: number[]): string => values.length === 0 ? '-' : `${round(median(values), 2)} [${round(Math.min(...values), 2)}–${round(Math.max(...values), 2)}]`

/** One row per kind of round: medians and [min–max] over its runs. */
export function printSummary (results: RoundResult[]): void {
  const rows: Array<Array<string | number>> = [['N', 'mode', 'runs', 'figure', '× T*: median [range]', 'last s: median', 'T* s', 'origin × file (max)', 'byte-exact', 'peak RSS MB (max)', 'nodes: machine (median)', 'upload use, node / link (median of means)', 'swarm upload use, node / link', 'received ÷ file: median / max (median of runs)', 'wasted MB: median [range]']]
  for (const runs of groups(results)) {
    const first = runs[0]!
    const finished = runs.filter(result => result.overBound !== null)
    const numbers = (pick: (result: RoundResult) => number | null | undefined): number[] => runs.map(pick).filter((value): value is number => typeof value === 'number' && !Number.isNaN(value))
    const middle = (pick: (result: RoundResult) => number | null | undefined): number | null => {
      const values = numbers(pick)
      return values.length === 0 ? null : median(values)
    }
    const unfinished = runs.length - finished.length
    rows.push([
      first.hosts, first.mode, runs.length, figureName(first),
      range(numbers(result => result.overBound)) + (unfinished > 0 ? ` (${unfinished} run(s) unfinished)` : ''),
      finished.length === 0 ? '-' : round(median(numbers(result => result.lastHostSeconds)), 1),
      round(first.lowerBoundSeconds, 2),
      Math.max(...runs.map(result => result.originBytesPerFile)),
      runs.every(result => result.byteExact) ? 'yes' : 'NO',
      first.peakRssMB.length > 0 ? Math.max(...runs.flatMap(result => result.peakRssMB)) : '-',
      percent(middle(result => result.cpu?.nodeShareOfMachine)),
      first.mode === 'swarm' ? `${percent(middle(result => result.upload?.meanUse))} / ${percent(middle(result => result.upload?.meanLinkUse))}` : '-',
      first.mode === 'swarm' ? `${percent(middle(result => result.upload?.swarmUse))} / ${percent(middle(result => result.upload?.swarmLinkUse))}` : '-',
      first.mode === 'swarm' ? `${fixed(middle(result => result.received?.medianPerFile))} / ${fixed(middle(result => result.received?.maxPerFile))}` : '-',
      first.mode === 'swarm' ? range(numbers(result => (result.received?.wastedTotal ?? NaN) / MB)) : '-'
    ])
  }
  printTable(rows)
}
