/**
 * The upload sampler: a child process that bench-swarm starts in the router namespace, from
 * where it reaches every node's admin port over the uncapped management network. Every
 * `--interval-ms` (and whenever a line arrives on stdin) it reads each node's /metrics and
 * prints one JSON line: `{"at": <epoch ms>, "hosts": [[upload, peer, origin, wasted] | null, …],
 * "links": [[up, down] | null, …]}`: the byte counters damselfly_upload_bytes_total,
 * damselfly_bytes_total{source="peer"|"origin"} and damselfly_peer_bytes_wasted_total (all
 * reasons) of each node in the order of the URLs given
 * (null: that node did not answer), and the bytes each host's link has carried up and down so
 * far, read from the kernel (the router's side of the link: its rx is the host's upload, its tx
 * the host's download; everything on the wire, TCP/IP and libp2p control included). It stops
 * when stdin closes. One long-lived process for all nodes: no process start per sample.
 *
 *   node dist/scripts/bench-swarm/sampler.js --interval-ms 500 --links v2,v3 http://10.78.0.2:4003/metrics …
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

/** The counters read from each node, in the order printed. */
export const sampledCounters = ['damselfly_upload_bytes_total', 'damselfly_bytes_total{source="peer"}', 'damselfly_bytes_total{source="origin"}'] as const
/** Summed over its labels (reasons), printed after the counters above. */
export const wastedCounter = 'damselfly_peer_bytes_wasted_total'
/** The /metrics query that returns only the sampled metrics: all of them cost the node ~2 ms more each read. */
export const sampledMetricsQuery = [...new Set([...sampledCounters, wastedCounter].map(series => series.split('{')[0]!))].map(name => `name=${name}`).join('&')

/** A node's counters as printed: `wasted` is 0 for a node older than the counter. */
export type NodeCounters = [upload: number, peer: number, origin: number, wasted: number]

/** One line of the sampler's output. */
export interface SamplerLine {
  at: number
  hosts: Array<NodeCounters | null>
  links: Array<[up: number, down: number] | null>
}

/** The counters of {@link sampledCounters} and {@link wastedCounter} in a Prometheus text exposition; 0 for one not there. */
export function parseCounters (text: string): NodeCounters {
  const found = new Map<string, number>()
  let wasted = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    if (space <= 0) continue
    const name = line.slice(0, space)
    const value = Number(line.slice(space + 1))
    found.set(name, value)
    if (name === wastedCounter || name.startsWith(`${wastedCounter}{`)) wasted += value
  }
  const [upload, peer, origin] = sampledCounters.map(name => found.get(name) ?? 0)
  return [upload!, peer!, origin!, wasted]
}

async function readNode (url: string): Promise<NodeCounters | null> {
  const controller = new AbortController()
  const timer = setTimeout(() => { controller.abort() }, 2000)
  try {
    const response = await fetch(url, { signal: controller.signal })
    if (!response.ok) return null
    return parseCounters(await response.text())
  } catch {
    return null
  } finally {
    clearTimeout(timer)
  }
}

/** A router-side interface's counters: [bytes it received (the host sent), bytes it sent]. */
async function readLink (name: string): Promise<[number, number] | null> {
  const read = async (counter: string): Promise<number> => Number(await readFile(`/sys/class/net/${name}/statistics/${counter}`, 'utf8'))
  try {
    return [await read('rx_bytes'), await read('tx_bytes')]
  } catch {
    return null
  }
}

async function main (): Promise<void> {
  const { values, positionals } = parseArgs({ options: { 'interval-ms': { type: 'string', default: '500' }, links: { type: 'string', default: '' } }, allowPositionals: true })
  const interval = Number(values['interval-ms'])
  const links = values.links === '' ? [] : values.links.split(',')
  let busy = false
  let again = false
  const sample = async (): Promise<void> => {
    // A tick that comes while one is running is taken right after it, not dropped or doubled.
    if (busy) {
      again = true
      return
    }
    busy = true
    try {
      do {
        again = false
        const [hosts, carried] = await Promise.all([Promise.all(positionals.map(readNode)), Promise.all(links.map(readLink))])
        const line: SamplerLine = { at: Date.now(), hosts, links: carried }
        process.stdout.write(JSON.stringify(line) + '\n')
      } while (again)
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => { void sample() }, interval)
  process.stdin.on('data', () => { void sample() })
  // Whoever started it has read all it wanted once it closes stdin.
  process.stdin.on('end', () => {
    clearInterval(timer)
    process.exit(0)
  })
  await sample()
}

// Run only as the program, not when bench-swarm imports the parser.
if (process.argv[1]?.endsWith('sampler.js') === true) await main()
