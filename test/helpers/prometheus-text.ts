/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it
 * throws on anything a Prometheus server would reject, and on a few things it would accept
 * but a well-behaved exporter never sends (a sample without a TYPE, a family split in two).
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface MetricFamily {
  name: string
  type: MetricType
  help?: string
  samples: Sample[]
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const types = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

export function parsePrometheusText (text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>()
  const finished = new Set<string>()
  const seriesSeen = new Set<string>()
  const typed = new Set<string>()
  let current: MetricFamily | undefined
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a newline')
  const lines = text.split('\n')
  lines.pop()
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line.slice(0, 80))})`
    const fail = (problem: string): never => { throw new Error(`${where}: ${problem}`) }
    if (line.trim() === '') return
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line)
      if (match === null) return // other comments are allowed
      const [, keyword, name = '', rest = ''] = match
      if (!metricName.test(name)) fail(`bad metric name ${name}`)
      let family = families.get(name)
      if (family === undefined) {
        if (current !== undefined) finished.add(current.name)
        family = { name, type: 'untyped', samples: [] }
        families.set(name, family)
        current = family
      } else if (family !== current || family.samples.length > 0) {
        fail(`${keyword} for ${name} after its samples or away from its family`)
      }
      if (keyword === 'HELP') {
        if (family.help !== undefined) fail(`second HELP for ${name}`)
        family.help = unescape(rest, false, fail)
      } else {
        if (typed.has(name)) fail(`second TYPE for ${name}`)
        if (!types.has(rest as MetricType)) fail(`unknown type ${rest}`)
        family.type = rest as MetricType
        typed.add(name)
      }
      return
    }
    const sample = parseSample(line, fail)
    const family = familyOf(sample.name, families)
    if (family === undefined || !typed.has(family.name)) fail(`sample ${sample.name} has no TYPE line before it`)
    if (family !== current) {
      if (finished.has(family!.name)) fail(`samples of ${family!.name} are not together`)
      if (current !== undefined) finished.add(current.name)
      current = family
    }
    const series = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`
    if (seriesSeen.has(series)) fail(`duplicate series ${series}`)
    seriesSeen.add(series)
    if (family!.type === 'counter' && (sample.value < 0 || Number.isNaN(sample.value))) fail('a counter must be a non-negative number')
    family!.samples.push(sample)
  })
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

/** The value of one series, or undefined when it is absent. */
export function sampleValue (families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(name, families)
  const wanted = Object.entries(labels)
  return family?.samples.find(sample => sample.name === name && wanted.every(([key, value]) => sample.labels[key] === value) &&
    Object.keys(sample.labels).length === wanted.length)?.value
}

function familyOf (sampleName: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  const exact = families.get(sampleName)
  if (exact !== undefined) return exact
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue
    const family = families.get(sampleName.slice(0, -suffix.length))
    if (family !== undefined && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return family
  }
  return undefined
}

function parseSample (line: string, fail: (problem: string) => never): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
  if (nameMatch === null) return fail('a sample must start with a metric name')
  const name = nameMatch[0]
  let position = name.length
  const labels: Record<string, string> = {}
  if (line[position] === '{') {
    position++
    while (line[position] !== '}') {
      const labelMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(position))
      if (labelMatch === null) fail(`bad label at column ${position + 1}`)
      const label = labelMatch![1]!
      if (!labelName.test(label) || label.startsWith('__')) fail(`reserved or bad label name ${label}`)
      if (label in labels) fail(`label ${label} twice`)
      position += labelMatch![0].length
      let raw = ''
      while (line[position] !== '"') {
        if (position >= line.length) fail('unterminated label value')
        if (line[position] === '\\') {
          raw += line.slice(position, position + 2)
          position += 2
        } else {
          raw += line[position]
          position++
        }
      }
      labels[label] = unescape(raw, true, fail)
      position++
      if (line[position] === ',') position++
      else if (line[position] !== '}') fail(`expected , or } at column ${position + 1}`)
    }
    position++
  }
  const rest = line.slice(position)
  const valueMatch = /^ (\S+)(?: (-?\d+))?$/.exec(rest)
  if (valueMatch === null) fail('expected one space, a value and an optional timestamp')
  const value = parseValue(valueMatch![1]!)
  if (value === undefined) fail(`bad value ${valueMatch![1]!}`)
  return { name, labels, value: value! }
}

function parseValue (text: string): number | undefined {
  // Prometheus parses values with Go's ParseFloat, which takes these in any case (prom-client
  // writes an idle event-loop lag as `Nan`).
  if (/^\+?inf$/i.test(text)) return Infinity
  if (/^-inf$/i.test(text)) return -Infinity
  if (/^nan$/i.test(text)) return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined
  return Number(text)
}

/** HELP text may escape \\ and \n; label values also \". Any other escape is an error. */
function unescape (raw: string, quoteAllowed: boolean, fail: (problem: string) => never): string {
  return raw.replace(/\\(.?)/g, (_whole, next: string) => {
    if (next === '\\') return '\\'
    if (next === 'n') return '\n'
    if (next === '"' && quoteAllowed) return '"'
    return fail(`bad escape \\${next}`)
  })
}

/** Buckets carry `le`, are cumulative, end at +Inf, and +Inf equals _count. */
function checkHistogram (family: MetricFamily): void {
  const groups = new Map<string, Sample[]>()
  const counts = new Map<string, number>()
  const keyOf = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).filter(([key]) => key !== 'le').sort())
  for (const sample of family.samples) {
    const key = keyOf(sample.labels)
    if (sample.name === `${family.name}_bucket`) {
      if (sample.labels.le === undefined) throw new Error(`${family.name}: a bucket without le`)
      groups.set(key, [...(groups.get(key) ?? []), sample])
    } else if (sample.name === `${family.name}_count`) {
      counts.set(key, sample.value)
    } else if (sample.name !== `${family.name}_sum`) {
      throw new Error(`${family.name}: unexpected sample ${sample.name} in a histogram`)
    }
  }
  for (const [key, buckets] of groups) {
    let previous = -Infinity
    let previousCount = 0
    for (const bucket of buckets) {
      const bound = parseValue(bucket.labels.le!)
      if (bound === undefined || bound <= previous) throw new Error(`${family.name}: buckets out of order at le=${bucket.labels.le!}`)
      if (bucket.value < previousCount) throw new Error(`${family.name}: bucket counts must not decrease (le=${bucket.labels.le!})`)
      previous = bound
      previousCount = bucket.value
    }
    if (previous !== Infinity) throw new Error(`${family.name}: the last bucket must be le="+Inf"`)
    if (counts.get(key) !== previousCount) throw new Error(`${family.name}: _count differs from the +Inf bucket`)
  }
}
