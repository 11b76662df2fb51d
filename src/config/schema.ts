/**
 * The typed configuration and the one zod schema that produces it. The schema accepts values
 * as every source gives them — typed YAML values, or text from the environment and flags —
 * checks them, normalises them and applies the defaults of the options table.
 *
 * Messages never name their source: load-config.ts prefixes each with the flag, variable or
 * file key the bad value came from.
 */
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { checkHostGlob, isLoopbackHost, parseCidr } from '../limits/access-list.js'
import type { LogFormat, LogLevel } from '../logging/logger.js'
import { parseHostPattern } from '../tls/host-patterns.js'
import { logFormats, logLevels, nodeRoles, optionFor } from './options.js'
import type { OptionKey } from './options.js'

export interface HostPort {
  host: string
  /** 0 asks the system for a free port. */
  port: number
}

export type NodeRole = typeof nodeRoles[number]

/** The node's configuration. Defaults and descriptions: the table in options.ts. */
export interface DamselflyConfig {
  /** Absolute path of the YAML file that was read, if one was. */
  configFile?: string
  /** Absolute path. */
  dataDir: string
  role: NodeRole
  /** http or https URL without a trailing slash. */
  registry: string
  /** `allowedClients`: CIDRs allowed besides loopback; `allowedUpstreams`: host globs besides the registry host. */
  proxy: { listen: HostPort, allowedClients: string[], allowedUpstreams: string[] }
  /** `tokenFile`: absolute path of the admin token file, or '' for none. */
  admin: { listen: HostPort, tokenFile: string }
  /** Multiaddrs. */
  /** `bootstrapDns`: names resolved to every node behind them. `pskFile`: absolute path, or '' for an open swarm. */
  p2p: { listen: string[], bootstrap: string[], bootstrapDns: HostPort[], pskFile: string, dataListen: HostPort, dataEncryption: boolean }
  backToSource: boolean
  /** Regular expressions (as text) matched against the full upstream URL. */
  rules: string[]
  /** Query parameter names; a name ending in `*` is a prefix. */
  filteredQueryParams: string[]
  /** Bytes; 0 = chosen per task from its length. */
  pieceSize: number
  origin: {
    concurrency: number
    retries: number
    retryDelayMs: number
    connectTimeoutMs: number
    idleTimeoutMs: number
  }
  tls: {
    /** Normalised `--intercept-host` patterns; empty: every CONNECT is a blind tunnel. */
    interceptHosts: string[]
    /** Absolute path, or '' for `<dataDir>/ca` (see tls/ca-store.ts caDirOf). */
    caDir: string
    /** Absolute path, or '' for none. */
    upstreamCaFile: string
  }
  log: { level: LogLevel, format: LogFormat }
  /** `quota` in bytes (0 = none); watermarks as fractions of it; `ttl` in milliseconds (0 = no expiry). */
  storage: { quota: number, highWatermark: number, lowWatermark: number, ttl: number }
  /** Byte rates per second and counts; 0 = unlimited. */
  limits: {
    uploadRate: number
    downloadRate: number
    originRate: number
    requestRate: number
    maxConcurrentTasks: number
    maxStreamsPerPeer: number
  }
}

/** What the schema yields; the loader adds `configFile`. */
export type SchemaConfig = Omit<DamselflyConfig, 'configFile'>

export interface ConfigSchemaInit {
  /** Base of relative paths. */
  cwd: string
  /** What `~/` stands for. */
  homeDir: string
}

const minPieceSize = 64 * 1024
const maxPieceSize = 256 * 1024 * 1024
/** Node clamps longer timers to 1 ms, so no delay or timeout may exceed this. */
const maxTimerMs = 2 ** 31 - 1

export function createConfigSchema (init: ConfigSchemaInit): z.ZodType<SchemaConfig, unknown> {
  const dataDir = z.string({ error: issue => `expected a directory path, got ${describeValue(issue.input)}` })
    .min(1, { error: 'must not be empty' })
    .transform(path => resolve(init.cwd, expandHome(path, init.homeDir)))

  const optionalPath = z.string({ error: issue => `expected a path, got ${describeValue(issue.input)}` })
    .transform(path => path === '' ? '' : resolve(init.cwd, expandHome(path, init.homeDir)))

  return z.strictObject({
    dataDir: withDefault('dataDir', dataDir),
    role: withDefault('role', oneOf(nodeRoles)),
    registry: withDefault('registry', parsedText('an http or https URL', parseRegistryUrl)),
    proxy: section({
      listen: withDefault('proxy.listen', hostPort),
      allowedClients: withDefault('proxy.allowedClients', listOf(cidrText)),
      allowedUpstreams: withDefault('proxy.allowedUpstreams', listOf(hostGlobText))
    }),
    admin: section({
      listen: withDefault('admin.listen', hostPort),
      tokenFile: withDefault('admin.tokenFile', optionalPath)
    }),
    p2p: section({
      listen: withDefault('p2p.listen', listOf(multiaddrText)),
      bootstrap: withDefault('p2p.bootstrap', listOf(multiaddrText)),
      bootstrapDns: withDefault('p2p.bootstrapDns', listOf(dnsNameText)),
      pskFile: withDefault('p2p.pskFile', z.string().transform(path => path === '' ? '' : resolve(init.cwd, expandHome(path, init.homeDir)))),
      dataListen: withDefault('p2p.dataListen', hostPort),
      dataEncryption: withDefault('p2p.dataEncryption', booleanValue)
    }),
    backToSource: withDefault('backToSource', booleanValue),
    rules: withDefault('rules', listOf(regexText)),
    filteredQueryParams: withDefault('filteredQueryParams', listOf(queryParamName)),
    pieceSize: withDefault('pieceSize', pieceSize),
    origin: section({
      concurrency: withDefault('origin.concurrency', wholeNumber(1, 64)),
      retries: withDefault('origin.retries', wholeNumber(0, 20)),
      retryDelayMs: withDefault('origin.retryDelayMs', wholeNumber(0, maxTimerMs)),
      connectTimeoutMs: withDefault('origin.connectTimeoutMs', wholeNumber(1, maxTimerMs)),
      idleTimeoutMs: withDefault('origin.idleTimeoutMs', wholeNumber(1, maxTimerMs))
    }),
    tls: section({
      interceptHosts: withDefault('tls.interceptHosts', hostPatternList),
      caDir: withDefault('tls.caDir', optionalPath),
      upstreamCaFile: withDefault('tls.upstreamCaFile', optionalPath)
    }),
    log: section({
      level: withDefault('log.level', oneOf(logLevels)),
      format: withDefault('log.format', oneOf(logFormats))
    }),
    storage: section({
      quota: withDefault('storage.quota', byteCount),
      highWatermark: withDefault('storage.highWatermark', fraction),
      lowWatermark: withDefault('storage.lowWatermark', fraction),
      ttl: withDefault('storage.ttl', duration)
    }),
    limits: section({
      uploadRate: withDefault('limits.uploadRate', byteRate),
      downloadRate: withDefault('limits.downloadRate', byteRate),
      originRate: withDefault('limits.originRate', byteRate),
      requestRate: withDefault('limits.requestRate', wholeNumber(0, 1_000_000)),
      maxConcurrentTasks: withDefault('limits.maxConcurrentTasks', wholeNumber(0, 100_000)),
      maxStreamsPerPeer: withDefault('limits.maxStreamsPerPeer', wholeNumber(1, 1024))
    })
  }).superRefine((config, context) => {
    if (config.storage.lowWatermark > config.storage.highWatermark) {
      context.issues.push({ code: 'custom', path: ['storage', 'lowWatermark'], message: `must not be above the high watermark (${config.storage.highWatermark})`, input: config.storage.lowWatermark })
    }
    // Not an open relay: a proxy others can reach must say who may use it.
    if (!isLoopbackHost(config.proxy.listen.host) && config.proxy.allowedClients.length === 0) {
      context.issues.push({
        code: 'custom',
        path: ['proxy', 'allowedClients'],
        message: `the proxy listens on ${formatHostPort(config.proxy.listen)}, which other hosts can reach: name the networks allowed to use it (--allowed-clients 10.0.0.0/8) or listen on 127.0.0.1`,
        input: config.proxy.allowedClients
      })
    }
    // Likewise the admin port: beyond loopback, whoever reaches it could start preheats.
    if (!isLoopbackHost(config.admin.listen.host) && config.admin.tokenFile === '') {
      context.issues.push({
        code: 'custom',
        path: ['admin', 'tokenFile'],
        message: `the admin port listens on ${formatHostPort(config.admin.listen)}, which other hosts can reach: give it a token (--admin-token-file FILE, made by \`damselfly keygen admin-token\`) or listen on 127.0.0.1`,
        input: config.admin.tokenFile
      })
    }
  })
}

/** A duration: seconds, or a number with s, m, h or d. '0' means never. */
export function parseDuration (text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new ConfigError(`expected a duration such as 90s, 30m, 12h or 7d, got ${describeValue(text)}`)
    return Math.round(text * 1000)
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text)
  if (match === null) throw new ConfigError(`expected a duration such as 90s, 30m, 12h or 7d, got ${describeValue(text)}`)
  const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
  return Math.round(Number(match[1]) * (unitMs[(match[2] ?? 's').toLowerCase()] ?? 1000))
}

/** 'HOST:PORT', '[IPv6]:PORT', or ':PORT' for all interfaces (0.0.0.0). */
export function parseHostPort (text: string): HostPort {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text)
  if (match === null) {
    const hint = !text.startsWith('[') && text.split(':').length > 2 ? ' (write IPv6 addresses in brackets: [::1]:PORT)' : ''
    throw new ConfigError(`expected HOST:PORT, got ${describeValue(text)}${hint}`)
  }
  const [, ipv6, name, portText] = match
  const port = Number(portText)
  if (port > 65535) throw new ConfigError(`port must be at most 65535, got ${describeValue(text)}`)
  if (ipv6 !== undefined) {
    if (isIP(ipv6) !== 6) throw new ConfigError(`expected an IPv6 address in brackets, got ${describeValue(text)}`)
    return { host: ipv6, port }
  }
  if (name === undefined || name === '') return { host: '0.0.0.0', port }
  if (isIP(name) !== 4 && !hostnamePattern.test(name)) {
    throw new ConfigError(`expected HOST:PORT with a host name or IP address, got ${describeValue(text)}`)
  }
  return { host: name, port }
}

/** The default libp2p port, taken when a bootstrap DNS name gives none. */
export const defaultP2PPort = 65100

/** 'NAME' or 'NAME:PORT' of --bootstrap-dns: a DNS name (or IPv4 address) and a libp2p port. */
export function parseDnsName (text: string): HostPort {
  const match = /^([^:]+)(?::(\d{1,5}))?$/.exec(text)
  const name = match?.[1]
  const port = match?.[2] === undefined ? defaultP2PPort : Number(match[2])
  if (name === undefined || !hostnamePattern.test(name) || port < 1 || port > 65535) {
    throw new ConfigError(`expected NAME or NAME:PORT with a DNS name and a port from 1 to 65535, got ${describeValue(text)}`)
  }
  return { host: name, port }
}

/** The inverse of parseHostPort; IPv6 hosts get brackets. */
export function formatHostPort (hostPort: HostPort): string {
  return hostPort.host.includes(':') ? `[${hostPort.host}]:${hostPort.port}` : `${hostPort.host}:${hostPort.port}`
}

/**
 * A byte count: a whole number, or a number with a unit. KB/MB/GB/TB (and K/M/G/T) are powers
 * of 1000, KiB/MiB/GiB/TiB (and Ki/Mi/Gi/Ti) powers of 1024; units are case-insensitive and may
 * follow a space.
 */
export function parseByteSize (text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) throw new ConfigError(`expected a whole number of bytes, got ${describeValue(text)}`)
    return text
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const multiplier = match === null ? undefined : byteUnits[(match[2] ?? '').toLowerCase()]
  if (match === null || multiplier === undefined) {
    throw new ConfigError(`expected a byte size such as 16MiB, 512KiB or 1048576, got ${describeValue(text)}`)
  }
  const bytes = Number(match[1]) * multiplier
  if (!Number.isSafeInteger(bytes)) throw new ConfigError(`expected a whole number of bytes, got ${describeValue(text)}`)
  return bytes
}

/** `~` and `~/…` stand for the home directory. */
export function expandHome (path: string, homeDir: string): string {
  return /^~(?=$|[\\/])/.test(path) ? homeDir + path.slice(1) : path
}

/** A value as an error message shows it: strings quoted, long values cut. */
export function describeValue (value: unknown): string {
  if (value === undefined) return 'nothing'
  const text = typeof value === 'number' ? String(value) : JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

const hostnamePattern = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i

const kilo = 1000
const kibi = 1024
const byteUnits: Record<string, number> = {
  '': 1,
  b: 1,
  k: kilo,
  kb: kilo,
  m: kilo ** 2,
  mb: kilo ** 2,
  g: kilo ** 3,
  gb: kilo ** 3,
  t: kilo ** 4,
  tb: kilo ** 4,
  ki: kibi,
  kib: kibi,
  mi: kibi ** 2,
  mib: kibi ** 2,
  gi: kibi ** 3,
  gib: kibi ** 3,
  ti: kibi ** 4,
  tib: kibi ** 4
}

function parseRegistryUrl (text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ConfigError(`expected an http or https URL, got ${describeValue(text)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`expected an http or https URL, got ${describeValue(text)}`)
  }
  if (url.search !== '' || url.hash !== '') throw new ConfigError(`must not have a query or fragment, got ${describeValue(text)}`)
  return url.href.replace(/\/+$/, '')
}

function checkRegex (text: string): string {
  try {
    new RegExp(text) // eslint-disable-line no-new
  } catch (error) {
    const reason = error instanceof Error ? error.message.split(': ').pop() : undefined
    throw new ConfigError(`not a valid regular expression${reason === undefined ? '' : ` (${reason})`}`)
  }
  return text
}

function checkMultiaddr (text: string): string {
  let components: number
  try {
    components = multiaddr(text).getComponents().length
  } catch (error) {
    throw new ConfigError(`not a valid multiaddr (${error instanceof Error ? error.message : String(error)})`)
  }
  if (components === 0) throw new ConfigError('not a valid multiaddr (empty)')
  return text
}

/** Text turned into a value by a parser that throws ConfigError. */
function parsedText<T> (expected: string, parse: (text: string) => T): z.ZodType<T, string> {
  return z.string({ error: issue => `expected ${expected}, got ${describeValue(issue.input)}` })
    .transform((text, context) => {
      try {
        return parse(text)
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        context.issues.push({ code: 'custom', message: error.message, input: text })
        return z.NEVER
      }
    })
}

const hostPort = parsedText('HOST:PORT', parseHostPort)
const cidrText = parsedText('a network such as 10.0.0.0/8', (text) => { parseCidr(text); return text })
const hostGlobText = parsedText('a host name pattern such as *.hf.co', checkHostGlob)
const regexText = parsedText('a regular expression', checkRegex)
const multiaddrText = parsedText('a multiaddr', checkMultiaddr)
/** Host patterns, one per element; an element may hold several separated by commas. */
const hostPatternList: z.ZodType<string[], string[]> = listOf(z.string({ error: issue => `expected a host pattern, got ${describeValue(issue.input)}` }))
  .transform(items => items.flatMap(item => item.split(',')).map(item => item.trim()).filter(item => item !== ''))
  .pipe(listOf(parsedText('HOST or HOST:PORT', parseHostPattern)))
const dnsNameText = parsedText('NAME[:PORT]', parseDnsName)
const queryParamName = z.string({ error: issue => `expected a parameter name, got ${describeValue(issue.input)}` })
  .min(1, { error: 'must not be empty' })

const pieceSize = z.union([z.number(), z.string()], {
  error: issue => `expected a byte size such as 16MiB, got ${describeValue(issue.input)}`
})
  .transform((value, context) => {
    try {
      return parseByteSize(value)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      context.issues.push({ code: 'custom', message: error.message, input: value })
      return z.NEVER
    }
  })
  .pipe(z.number().refine(
    bytes => bytes === 0 || (bytes >= minPieceSize && bytes <= maxPieceSize && Number.isInteger(Math.log2(bytes))),
    { error: issue => `must be 0 (automatic) or a power of two from 64KiB to 256MiB, got ${describeValue(issue.input)} bytes` }
  ))

/** A value parsed by `parse`, given as a number (YAML) or as text (environment, flags). */
function numberOrText<T> (expected: string, parse: (value: string | number) => T): z.ZodType<T, number | string> {
  return z.union([z.number(), z.string()], { error: issue => `expected ${expected}, got ${describeValue(issue.input)}` })
    .transform((value, context) => {
      try {
        return parse(value)
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        context.issues.push({ code: 'custom', message: error.message, input: value })
        return z.NEVER
      }
    })
}

const byteCount = numberOrText('a byte size such as 50GiB', parseByteSize)
/** Bytes per second: a byte size, optionally followed by /s. */
const byteRate = numberOrText('a rate such as 100MiB/s', value => parseByteSize(typeof value === 'string' ? value.replace(/\/s$/i, '') : value))
const duration = numberOrText('a duration such as 7d', parseDuration)
const fraction = numberOrText('a fraction such as 0.9', (value) => {
  const number = typeof value === 'number' ? value : Number(value.trim())
  if (value === '' || !Number.isFinite(number) || number < 0 || number > 1) throw new ConfigError(`expected a fraction from 0 to 1, got ${describeValue(value)}`)
  return number
})

/** true/false, also as text from the environment or a flag (yes/no, on/off, 1/0). */
const booleanValue = z.union([
  z.boolean(),
  z.string().trim().toLowerCase().pipe(z.enum(['true', 'false', 'yes', 'no', 'on', 'off', '1', '0'])).transform(text => ['true', 'yes', 'on', '1'].includes(text))
], { error: issue => `expected true or false, got ${describeValue(issue.input)}` })

function wholeNumber (min: number, max: number): z.ZodType<number, number | string> {
  const expected = (issue: { input?: unknown }): string => `expected a whole number, got ${describeValue(issue.input)}`
  return z.union([z.number(), z.string().regex(/^\s*-?\d+\s*$/).transform(Number)], { error: expected })
    .pipe(z.number().int({ error: expected })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }))
}

function oneOf<const T extends readonly [string, ...string[]]> (choices: T): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(choices, { error: issue => `expected one of ${choices.join(', ')}, got ${describeValue(issue.input)}` })
}

function listOf<T> (item: z.ZodType<T, string>): z.ZodType<T[], string[]> {
  return z.array(item, { error: issue => `expected a list, got ${describeValue(issue.input)}` })
}

function section<Shape extends z.ZodRawShape> (shape: Shape): z.ZodPrefault<z.ZodObject<Shape, z.core.$strict>> {
  return z.strictObject(shape, {
    error: issue => issue.code === 'invalid_type' ? `expected a mapping, got ${describeValue(issue.input)}` : undefined
  }).prefault({} as z.input<z.ZodObject<Shape, z.core.$strict>>)
}

/**
 * The option's schema with the table's default, which is checked like any user value (a
 * bad default fails every load, which the defaults test would show at once).
 */
function withDefault<Output, Input> (key: OptionKey, schema: z.ZodType<Output, Input>): z.ZodType<Output, Input | undefined> {
  const value = optionFor(key).default
  if (value === undefined) throw new Error(`option ${key} has no default`)
  return schema.prefault(() => (Array.isArray(value) ? [...value] : value) as Input)
}
