/** bench-swarm's command line and the settings derived from it (main.ts says what the benchmark does). */
import { scriptArgs, usageExitCode } from '../lib/args.js'
import { parseByteRate, parseByteSize } from '../../test/fixtures/fake-hub/index.js'

const values = scriptArgs({
  name: 'bench-swarm',
  summary: 'N hosts (network namespaces, tc-capped links) start cold at once and all want the same file: swarm vs direct, against the fluid-model bound T*, with each round\'s CPU use and upload trace. Needs root and iproute2.',
  options: {
    hosts: { type: 'string', default: '2,4,8', valueName: 'LIST', description: 'host counts N to run, comma-separated' },
    // Small links on purpose: N nodes share this machine's two cores, and the links, not the
    // CPU, must be what limits the transfer for T* to be the right yardstick.
    size: { type: 'string', default: '64MiB', valueName: 'SIZE', description: 'size of the file' },
    'origin-up': { type: 'string', default: '10MB/s', valueName: 'RATE', description: 'the origin host\'s upload' },
    'host-up': { type: 'string', default: '5MB/s', valueName: 'RATE', description: 'each host\'s upload' },
    'host-down': { type: 'string', default: '20MB/s', valueName: 'RATE', description: 'each host\'s download' },
    runs: { type: 'string', default: '1', valueName: 'K', description: 'rounds of each kind, each on fresh nodes; the table shows the median and range of the K' },
    modes: { type: 'string', default: 'swarm,direct', valueName: 'LIST', description: 'which rounds to run: swarm, direct or both' },
    'slow-host': { type: 'boolean', default: false, description: 'host N-1 uploads at --slow-host-up instead of --host-up; the figure is then each other host\'s time ÷ the bound with that upload' },
    'slow-host-up': { type: 'string', default: '1MB/s', valueName: 'RATE', description: 'the slow host\'s upload (with --slow-host)' },
    'slow-elected': { type: 'boolean', default: false, description: 'with --slow-host, in swarm rounds the slow host is one of the seeds the nodes elect for the file (its share can leave it only at the slow rate), not host N-1' },
    'kill-half': { type: 'boolean', default: false, description: 'in swarm rounds, SIGKILL one node other than the bootstrap one once the nodes together hold half of the N copies; the rest must finish byte-exact' },
    'kill-seed': { type: 'boolean', default: false, description: 'with --kill-half, the node killed is an elected seed (the one of them that uploaded most, not host 0): the round then measures what a lost seed costs the origin' },
    'node-flags': { type: 'string', default: '', valueName: 'FLAGS', description: 'extra flags for every node, space-separated (for example "--piece-size 1MiB"), to compare settings' },
    'cpu-prof': { type: 'string', valueName: 'DIR', description: 'write a V8 CPU profile of every node into DIR (written as each node stops), to see where the nodes\' CPU goes' },
    'sample-ms': { type: 'string', default: '500', valueName: 'MS', description: 'how often each node\'s /metrics is read for the upload trace (from the router namespace, over the uncapped management network)' },
    out: { type: 'string', default: 'results/bench-swarm.json', valueName: 'FILE', description: 'where the JSON report goes' },
    chart: { type: 'string', default: 'results/bench-swarm.svg', valueName: 'FILE', description: 'where the SVG chart of completion times goes' },
    'upload-chart': { type: 'string', default: 'results/bench-swarm-upload.svg', valueName: 'FILE', description: 'where the SVG chart of each host\'s upload rate over time goes (first run of each swarm round kind)' },
    from: { type: 'string', valueName: 'FILE', description: 'measure nothing: print the tables and draw the charts from this earlier (maybe partial) JSON' },
    'round-timeout-s': { type: 'string', default: '300', valueName: 'S', description: 'a client not done by then is recorded as unfinished and the run goes on (scale it with --size)' },
    smoke: { type: 'boolean', default: false, description: 'two hosts, a small file, fast links (npm test runs this)' }
  }
})

export type Mode = 'swarm' | 'direct'

export interface Settings {
  counts: number[]
  runs: number
  modes: Mode[]
  /** File size, bytes. */
  size: number
  /** Rates, bytes per second. */
  originUp: number
  hostUp: number
  hostDown: number
  /** The slow host's upload when --slow-host is on, else undefined. */
  slowHostUp: number | undefined
  /** --slow-elected: the slow host is an elected seed of the file (swarm rounds). */
  slowElected: boolean
  killHalf: boolean
  /** With killHalf: only an elected seed is killed. */
  killSeed: boolean
  sampleMs: number
  /** Extra flags for every node (--node-flags). */
  nodeFlags: string[]
  /** --cpu-prof: the folder for every node's CPU profile, else undefined. */
  cpuProfDir: string | undefined
  timeoutSeconds: number
  out: string
  chart: string
  uploadChart: string
  from: string | undefined
}

function positiveInteger (text: string, name: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number ≥ 1, not ${text}`)
  return value
}

function modes (text: string): Mode[] {
  const list = text.split(',').map(mode => mode.trim())
  for (const mode of list) if (mode !== 'swarm' && mode !== 'direct') throw new Error(`--modes takes swarm and/or direct, not ${mode}`)
  return list as Mode[]
}

function parseSettings (): Settings {
  return {
    counts: values.smoke ? [2] : values.hosts.split(',').map(count => positiveInteger(count, 'hosts')),
    runs: positiveInteger(values.runs, 'runs'),
    modes: modes(values.modes),
    size: parseByteSize(values.smoke ? '4MiB' : values.size),
    originUp: parseByteRate(values.smoke ? '50MB/s' : values['origin-up']),
    hostUp: parseByteRate(values.smoke ? '50MB/s' : values['host-up']),
    hostDown: parseByteRate(values.smoke ? '100MB/s' : values['host-down']),
    slowHostUp: values['slow-host'] ? parseByteRate(values['slow-host-up']) : undefined,
    slowElected: values['slow-elected'],
    killHalf: values['kill-half'],
    killSeed: values['kill-seed'],
    sampleMs: positiveInteger(values['sample-ms'], 'sample-ms'),
    nodeFlags: values['node-flags'].split(' ').filter(flag => flag.length > 0),
    cpuProfDir: values['cpu-prof'],
    timeoutSeconds: values.smoke ? 60 : Number(values['round-timeout-s']),
    out: values.out,
    chart: values.chart,
    uploadChart: values['upload-chart'],
    from: values.from
  }
}

/** The settings, or one line and exit 2 for a bad value (as scriptArgs does for a bad option). */
export const settings: Settings = (() => {
  try {
    return parseSettings()
  } catch (error) {
    process.stderr.write(`bench-swarm: ${(error as Error).message}\n`)
    process.exit(usageExitCode)
  }
})()
