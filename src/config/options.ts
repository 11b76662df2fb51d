/**
 * Every configuration option in one table: its place in the YAML file (and in the typed
 * config), its flag, its environment variable, its kind, its default and what it does.
 *
 * This is the one place defaults are written down. The schema (schema.ts) takes its defaults
 * from here, `damselfly start --help` is generated from here (configHelp), and
 * test/config-docs.test.ts checks that docs/configuration.md describes every row.
 */
export type OptionKind = 'string' | 'number' | 'boolean' | 'list' | 'enum'

/** A value as the user would write it in the YAML file. */
export type OptionValue = string | number | boolean | readonly string[]

export interface OptionSpec {
  /** Dotted path in the YAML file and in DamselflyConfig, e.g. `origin.concurrency`. */
  readonly key: string
  /** Long flag without the leading dashes, e.g. `origin-concurrency`. List flags repeat. */
  readonly flag: string
  /** Environment variable; lists in it are separated by whitespace. */
  readonly env: string
  readonly kind: OptionKind
  /** Placeholder for the value in help and docs, e.g. `HOST:PORT`. */
  readonly valueName: string
  /** The allowed values of an `enum` option. */
  readonly choices?: readonly string[]
  readonly description: string
  /** The default, in the form the user would write it. Absent only for `--config`. */
  readonly default?: OptionValue
  /** False only for the path of the configuration file itself. */
  readonly inFile: boolean
}

export const nodeRoles = ['peer', 'seed'] as const
export const logLevels = ['debug', 'info', 'warn', 'error'] as const
export const logFormats = ['human', 'json'] as const

const table = [
  {
    key: 'configFile',
    flag: 'config',
    env: 'DAMSELFLY_CONFIG',
    kind: 'string',
    valueName: 'FILE',
    description: 'YAML configuration file to read. A named file that does not exist is an error; without this option no file is read.',
    inFile: false
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'DAMSELFLY_DATA_DIR',
    kind: 'string',
    valueName: 'DIR',
    description: 'Directory for cached pieces, task metadata and the node key. A leading ~/ means the home directory; a relative path in the YAML file is relative to the file, elsewhere to the working directory.',
    default: '~/.cache/damselfly',
    inFile: true
  },
  {
    key: 'role',
    flag: 'role',
    env: 'DAMSELFLY_ROLE',
    kind: 'enum',
    valueName: 'ROLE',
    choices: nodeRoles,
    description: 'peer: takes pieces from the swarm and goes to the origin only when no seed is in reach. seed: may be elected to fetch a task from the origin for the swarm.',
    default: 'peer',
    inFile: true
  },
  {
    key: 'registry',
    flag: 'registry',
    env: 'DAMSELFLY_REGISTRY',
    kind: 'string',
    valueName: 'URL',
    description: 'Upstream hub for mirror-style requests (HF_ENDPOINT=http://127.0.0.1:65001). An http or https URL; a trailing slash is dropped.',
    default: 'https://huggingface.co',
    inFile: true
  },
  {
    key: 'proxy.listen',
    flag: 'proxy-listen',
    env: 'DAMSELFLY_PROXY_LISTEN',
    kind: 'string',
    valueName: 'HOST:PORT',
    description: 'Address of the HTTP proxy. [::1]:PORT for IPv6, :PORT for all interfaces, port 0 for any free port.',
    default: '127.0.0.1:65001',
    inFile: true
  },
  {
    key: 'admin.listen',
    flag: 'admin-listen',
    env: 'DAMSELFLY_ADMIN_LISTEN',
    kind: 'string',
    valueName: 'HOST:PORT',
    description: 'Address of the admin HTTP server (/metrics, /healthy, /readyz, /status, /api/status).',
    default: '127.0.0.1:65002',
    inFile: true
  },
  {
    key: 'admin.tokenFile',
    flag: 'admin-token-file',
    env: 'DAMSELFLY_ADMIN_TOKEN_FILE',
    kind: 'string',
    valueName: 'FILE',
    description: 'File holding the admin token (at least 32 characters; `damselfly keygen admin-token` writes one). With it, every admin request that changes something (POST /api/preheat) needs Authorization: Bearer <token>, from loopback too. Required when the admin port listens beyond loopback. Empty: no token.',
    default: '',
    inFile: true
  },
  {
    key: 'p2p.listen',
    flag: 'p2p-listen',
    env: 'DAMSELFLY_P2P_LISTEN',
    kind: 'list',
    valueName: 'MULTIADDR',
    description: 'libp2p listen multiaddrs.',
    default: ['/ip4/0.0.0.0/tcp/65100'],
    inFile: true
  },
  {
    key: 'p2p.bootstrap',
    flag: 'bootstrap',
    env: 'DAMSELFLY_BOOTSTRAP',
    kind: 'list',
    valueName: 'MULTIADDR',
    description: 'Multiaddrs of nodes to join the swarm through, usually ending in /p2p/<peer id> (see <data-dir>/node.json of a running node).',
    default: [],
    inFile: true
  },
  {
    key: 'p2p.bootstrapDns',
    flag: 'bootstrap-dns',
    env: 'DAMSELFLY_BOOTSTRAP_DNS',
    kind: 'list',
    valueName: 'NAME[:PORT]',
    description: 'DNS names whose A and AAAA records are nodes to join through (a headless Service of the seeds), resolved again every round; PORT is their libp2p port, 65100 if left out.',
    default: [],
    inFile: true
  },
  {
    key: 'p2p.pskFile',
    flag: 'psk-file',
    env: 'DAMSELFLY_PSK_FILE',
    kind: 'string',
    valueName: 'FILE',
    description: 'Private network key file (made by `damselfly keygen`). Nodes without the same key cannot connect. Empty: an open swarm.',
    default: '',
    inFile: true
  },
  {
    key: 'p2p.dataListen',
    flag: 'data-listen',
    env: 'DAMSELFLY_DATA_LISTEN',
    kind: 'string',
    valueName: 'HOST:PORT',
    description: 'Address of the data port: the TCP listener piece bytes flow on, beside libp2p. Peers connect to it at the IP address their libp2p connection reached this node at. Port 0 for any free port.',
    default: '0.0.0.0:65101',
    inFile: true
  },
  {
    key: 'p2p.dataEncryption',
    flag: 'data-encryption',
    env: 'DAMSELFLY_DATA_ENCRYPTION',
    kind: 'boolean',
    valueName: 'true|false',
    description: 'Encrypt piece bytes on data connections. false, for trusted networks only: a connection between two nodes that both say false is plain (block digests still verify every block).',
    default: true,
    inFile: true
  },
  {
    key: 'backToSource',
    flag: 'back-to-source',
    env: 'DAMSELFLY_BACK_TO_SOURCE',
    kind: 'boolean',
    valueName: 'true|false',
    description: 'Whether a node may fetch from the origin itself: when no seed is in reach, when the elected seeds cannot fetch, or for pieces the swarm would deliver later than the origin, judged from the rates seen.',
    default: true,
    inFile: true
  },
  {
    key: 'rules',
    flag: 'rule',
    env: 'DAMSELFLY_RULES',
    kind: 'list',
    valueName: 'REGEX',
    description: 'Regular expressions matched against the full upstream URL; a GET that one matches is served through the swarm, anything else goes straight to the origin.',
    default: [
      '^https?://cdn-lfs[^/]*\\.hf\\.co/',
      '^https?://cdn-lfs\\.huggingface\\.co/',
      '^https?://cas-bridge\\.xethub\\.hf\\.co/',
      '/repos/'
    ],
    inFile: true
  },
  {
    key: 'filteredQueryParams',
    flag: 'filter-param',
    env: 'DAMSELFLY_FILTER_PARAMS',
    kind: 'list',
    valueName: 'NAME',
    description: 'Query parameters left out of a URL when computing its task key, so that differently signed URLs of one file are one task. A name ending in * is a prefix.',
    default: ['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'X-Amz-*', 'response-content-*', 'X-Xet-Cas-Uid', 'x-id'],
    inFile: true
  },
  {
    key: 'pieceSize',
    flag: 'piece-size',
    env: 'DAMSELFLY_PIECE_SIZE',
    kind: 'number',
    valueName: 'SIZE',
    description: 'Piece size for new tasks: 0 picks one from the content length (1MiB to 64MiB: at least 64 pieces under 256MiB, else length/500); otherwise a power of two from 64KiB to 256MiB. Accepts 16MiB, 512KiB, 1GiB or a number of bytes.',
    default: 0,
    inFile: true
  },
  {
    key: 'origin.concurrency',
    flag: 'origin-concurrency',
    env: 'DAMSELFLY_ORIGIN_CONCURRENCY',
    kind: 'number',
    valueName: 'N',
    description: 'Parallel ranged piece GETs per task against the origin, 1 to 64.',
    default: 4,
    inFile: true
  },
  {
    key: 'origin.retries',
    flag: 'origin-retries',
    env: 'DAMSELFLY_ORIGIN_RETRIES',
    kind: 'number',
    valueName: 'N',
    description: 'Retries of a failed origin request, 0 to 20.',
    default: 5,
    inFile: true
  },
  {
    key: 'origin.retryDelayMs',
    flag: 'origin-retry-delay-ms',
    env: 'DAMSELFLY_ORIGIN_RETRY_DELAY_MS',
    kind: 'number',
    valueName: 'MS',
    description: 'Base delay of the exponential backoff between origin retries, in milliseconds.',
    default: 200,
    inFile: true
  },
  {
    key: 'origin.connectTimeoutMs',
    flag: 'origin-connect-timeout-ms',
    env: 'DAMSELFLY_ORIGIN_CONNECT_TIMEOUT_MS',
    kind: 'number',
    valueName: 'MS',
    description: 'Time allowed to connect to the origin, in milliseconds.',
    default: 10000,
    inFile: true
  },
  {
    key: 'origin.idleTimeoutMs',
    flag: 'origin-idle-timeout-ms',
    env: 'DAMSELFLY_ORIGIN_IDLE_TIMEOUT_MS',
    kind: 'number',
    valueName: 'MS',
    description: 'An origin response body that sends no bytes for this long, in milliseconds, is abandoned and retried.',
    default: 30000,
    inFile: true
  },
  {
    key: 'tls.interceptHosts',
    flag: 'intercept-host',
    env: 'DAMSELFLY_INTERCEPT_HOSTS',
    kind: 'list',
    valueName: 'HOST[:PORT]',
    description: 'Hosts whose HTTPS (CONNECT) traffic the node decrypts with its own CA (`damselfly ca init`), so rules apply to it as to plain HTTP. HOST matches every port, HOST:PORT one; *.DOMAIN matches its subdomains; commas may separate several. Empty: every CONNECT is a blind tunnel.',
    default: [],
    inFile: true
  },
  {
    key: 'proxy.allowedClients',
    flag: 'allowed-clients',
    env: 'DAMSELFLY_ALLOWED_CLIENTS',
    kind: 'list',
    valueName: 'CIDR',
    description: 'Networks whose clients may use the proxy (10.0.0.0/8, fd00::/8, or one address); loopback is always allowed, others get 403. Required when the proxy listens on a non-loopback address.',
    default: [],
    inFile: true
  },
  {
    key: 'tls.caDir',
    flag: 'ca-dir',
    env: 'DAMSELFLY_CA_DIR',
    kind: 'string',
    valueName: 'DIR',
    description: 'Folder of the CA that signs intercepted hosts\' certificates (ca.crt, ca.key). Empty: <data-dir>/ca.',
    default: '',
    inFile: true
  },
  {
    key: 'tls.upstreamCaFile',
    flag: 'upstream-ca-file',
    env: 'DAMSELFLY_UPSTREAM_CA_FILE',
    kind: 'string',
    valueName: 'FILE',
    description: 'PEM file of extra CA certificates trusted for HTTPS upstreams (a private hub), besides the ones Node.js trusts. Empty: none.',
    default: '',
    inFile: true
  },
  {
    key: 'proxy.allowedUpstreams',
    flag: 'allowed-upstreams',
    env: 'DAMSELFLY_ALLOWED_UPSTREAMS',
    kind: 'list',
    valueName: 'HOST-GLOB',
    description: 'Hosts the node forwards to, tunnels to and fetches from (a * matches any characters; a lone * allows every host). The registry host is always allowed; other hosts get 403.',
    default: ['huggingface.co', '*.huggingface.co', 'hf.co', '*.hf.co'],
    inFile: true
  },
  {
    key: 'storage.quota',
    flag: 'cache-quota',
    env: 'DAMSELFLY_CACHE_QUOTA',
    kind: 'number',
    valueName: 'SIZE',
    description: 'Most bytes of content the cache keeps (50GiB, 500GB); least recently used tasks are evicted to stay under it. 0: no quota.',
    default: 0,
    inFile: true
  },
  {
    key: 'storage.highWatermark',
    flag: 'cache-high-watermark',
    env: 'DAMSELFLY_CACHE_HIGH_WATERMARK',
    kind: 'number',
    valueName: 'FRACTION',
    description: 'Eviction starts when the cache holds more than this fraction of the quota, 0 to 1.',
    default: 0.9,
    inFile: true
  },
  {
    key: 'storage.lowWatermark',
    flag: 'cache-low-watermark',
    env: 'DAMSELFLY_CACHE_LOW_WATERMARK',
    kind: 'number',
    valueName: 'FRACTION',
    description: 'Eviction stops once the cache holds no more than this fraction of the quota, 0 to the high watermark.',
    default: 0.8,
    inFile: true
  },
  {
    key: 'storage.ttl',
    flag: 'cache-ttl',
    env: 'DAMSELFLY_CACHE_TTL',
    kind: 'string',
    valueName: 'DURATION',
    description: 'Tasks not used for this long are evicted (90s, 30m, 12h, 7d, or seconds). 0: no expiry.',
    default: '0',
    inFile: true
  },
  {
    key: 'limits.uploadRate',
    flag: 'upload-rate',
    env: 'DAMSELFLY_UPLOAD_RATE',
    kind: 'number',
    valueName: 'RATE',
    description: 'Bytes per second this node serves to peers, all streams together (100MiB, 1GB/s). 0: unlimited.',
    default: 0,
    inFile: true
  },
  {
    key: 'limits.downloadRate',
    flag: 'download-rate',
    env: 'DAMSELFLY_DOWNLOAD_RATE',
    kind: 'number',
    valueName: 'RATE',
    description: 'Bytes per second this node takes from peers, all streams together. 0: unlimited.',
    default: 0,
    inFile: true
  },
  {
    key: 'limits.originRate',
    flag: 'origin-rate',
    env: 'DAMSELFLY_ORIGIN_RATE',
    kind: 'number',
    valueName: 'RATE',
    description: 'Bytes per second this node fetches from the origin for tasks (back-to-source), all tasks together. 0: unlimited.',
    default: 0,
    inFile: true
  },
  {
    key: 'limits.requestRate',
    flag: 'request-rate',
    env: 'DAMSELFLY_REQUEST_RATE',
    kind: 'number',
    valueName: 'N',
    description: 'Proxy requests per second each client address may send (bursts of as many); more get 429 with Retry-After. 0: unlimited.',
    default: 0,
    inFile: true
  },
  {
    key: 'limits.maxConcurrentTasks',
    flag: 'max-concurrent-tasks',
    env: 'DAMSELFLY_MAX_CONCURRENT_TASKS',
    kind: 'number',
    valueName: 'N',
    description: 'Downloads running at once; a request that would start one more gets 429 with Retry-After (cache hits and joining a running download are not limited). 0: unlimited.',
    default: 0,
    inFile: true
  },
  {
    key: 'limits.maxStreamsPerPeer',
    flag: 'max-streams-per-peer',
    env: 'DAMSELFLY_MAX_STREAMS_PER_PEER',
    kind: 'number',
    valueName: 'N',
    description: 'Streams of each protocol one peer connection may have open towards this node at once; more are reset. 1 to 1024.',
    default: 256,
    inFile: true
  },
  {
    key: 'log.level',
    flag: 'log-level',
    env: 'DAMSELFLY_LOG_LEVEL',
    kind: 'enum',
    valueName: 'LEVEL',
    choices: logLevels,
    description: 'Lowest level logged. DEBUG=damselfly:* also enables debug lines per namespace.',
    default: 'info',
    inFile: true
  },
  {
    key: 'log.format',
    flag: 'log-format',
    env: 'DAMSELFLY_LOG_FORMAT',
    kind: 'enum',
    valueName: 'FORMAT',
    choices: logFormats,
    description: 'human: one readable line per event; json: one JSON object per line.',
    default: 'human',
    inFile: true
  }
] as const satisfies readonly OptionSpec[]

export type OptionKey = typeof table[number]['key']

/** Every option, in the order help and docs list them. */
export const options: readonly OptionSpec[] = table

/** The row of one option. */
export function optionFor (key: OptionKey): OptionSpec {
  const option = options.find(candidate => candidate.key === key)
  if (option === undefined) throw new Error(`no option ${key} in the table`)
  return option
}

/** The default of one option as text, as `--help` and the docs show it. */
export function formatDefault (option: OptionSpec): string {
  const value = option.default
  if (value === undefined) return 'none'
  if (Array.isArray(value)) return value.length === 0 ? 'none (empty list)' : value.join(' ')
  if (option.key === 'pieceSize' && value === 0) return '0 (automatic)'
  return String(value)
}

const helpWidth = 80
const helpIndent = '      '

/** The options section of `damselfly start --help`, written from the table. */
export function configHelp (): string {
  const lines = [
    'Options (flags override DAMSELFLY_* environment variables, which override the YAML file;',
    'a list given at one level replaces the list below it; lists in the environment are',
    'separated by whitespace):'
  ]
  for (const option of options) {
    const repeat = option.kind === 'list' ? ' (repeatable)' : ''
    const value = option.choices === undefined ? option.valueName : option.choices.join('|')
    lines.push(`  --${option.flag} ${value}${repeat}`)
    const where = option.inFile ? `, file ${option.key}` : ''
    const text = `${option.description} Default: ${formatDefault(option)}. Environment ${option.env}${where}.`
    lines.push(...wrap(text, helpWidth - helpIndent.length).map(line => helpIndent + line))
  }
  return lines.join('\n')
}

function wrap (text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(line)
  return lines
}
