import { isIP } from 'node:net'
import { ConfigError } from '../errors.js'

/** One entry of `--intercept-host`: a host (or every name under a domain), on every port or one. */
interface HostPattern {
  /** Lower case, no trailing dot, IPv6 without brackets; for a wildcard, the domain after `*.`. */
  host: string
  wildcard: boolean
  port?: number
}

const hostnamePattern = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/

/**
 * Checks and normalises one pattern: `host`, `host:port`, `*.domain`, `*.domain:port`,
 * `1.2.3.4[:port]`, `[::1]` or `[::1]:port` (a bare `::1` too). Throws ConfigError.
 */
export function parseHostPattern (text: string): string {
  return formatPattern(readPattern(text))
}

/** Decides which CONNECT targets are intercepted. */
export class HostMatcher {
  private readonly patterns: HostPattern[]

  constructor (patterns: readonly string[]) {
    this.patterns = patterns.map(readPattern)
  }

  get empty (): boolean {
    return this.patterns.length === 0
  }

  matches (host: string, port: number): boolean {
    const name = normaliseHost(host)
    return this.patterns.some(pattern =>
      (pattern.port === undefined || pattern.port === port) &&
      (pattern.wildcard ? name.endsWith(`.${pattern.host}`) : name === pattern.host))
  }
}

function readPattern (text: string): HostPattern {
  const trimmed = text.trim().toLowerCase()
  if (trimmed.includes('/')) throw new ConfigError(`expected HOST, HOST:PORT or *.DOMAIN, not a URL or path, got ${JSON.stringify(text)}`)
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(trimmed)
  let host: string
  let portText: string | undefined
  if (bracketed !== null) {
    host = bracketed[1] ?? ''
    portText = bracketed[2]
    if (isIP(host) !== 6) throw new ConfigError(`expected an IPv6 address in brackets, got ${JSON.stringify(text)}`)
  } else if (isIP(trimmed) === 6) {
    host = trimmed
  } else {
    const colon = trimmed.lastIndexOf(':')
    host = colon === -1 ? trimmed : trimmed.slice(0, colon)
    portText = colon === -1 ? undefined : trimmed.slice(colon + 1)
  }
  const wildcard = host.startsWith('*.')
  if (wildcard) host = host.slice(2)
  host = host.replace(/\.$/, '')
  if (isIP(host) === 0 && !hostnamePattern.test(host)) {
    throw new ConfigError(`expected HOST, HOST:PORT or *.DOMAIN, got ${JSON.stringify(text)}`)
  }
  if (wildcard && isIP(host) !== 0) throw new ConfigError(`a wildcard needs a domain name, got ${JSON.stringify(text)}`)
  let port: number | undefined
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
    if (!(port >= 1 && port <= 65535)) throw new ConfigError(`expected a port from 1 to 65535 in ${JSON.stringify(text)}`)
  }
  return { host, wildcard, port }
}

function formatPattern (pattern: HostPattern): string {
  const host = (pattern.wildcard ? '*.' : '') + pattern.host
  if (pattern.port === undefined) return host
  return isIP(pattern.host) === 6 ? `[${host}]:${pattern.port}` : `${host}:${pattern.port}`
}

function normaliseHost (host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '')
}
