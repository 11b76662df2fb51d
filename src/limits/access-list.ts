import { BlockList, isIP } from 'node:net'
import { ConfigError } from '../errors.js'

/** 127.0.0.0/8 and ::1: the host itself, always allowed to use its own node. */
export function isLoopbackAddress (address: string): boolean {
  const plain = unmapped(address)
  if (isIP(plain) === 4) return plain.startsWith('127.')
  return plain === '::1'
}

/** A listen host that only this machine can reach. */
export function isLoopbackHost (host: string): boolean {
  return host.toLowerCase() === 'localhost' || isLoopbackAddress(host.replace(/^\[|\]$/g, ''))
}

/** `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) is 10.0.0.1. */
function unmapped (address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return match?.[1] ?? address
}

/** Checks one CIDR (`10.0.0.0/8`, `fd00::/8`) or address; throws ConfigError when malformed. */
export function parseCidr (text: string): { address: string, prefix: number, family: 'ipv4' | 'ipv6' } {
  const [address = '', prefixText, ...rest] = text.trim().split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) throw new ConfigError(`expected a network such as 10.0.0.0/8 or fd00::/8, got ${JSON.stringify(text)}`)
  const max = version === 4 ? 32 : 128
  const prefix = prefixText === undefined ? max : Number(prefixText)
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) throw new ConfigError(`prefix length must be 0 to ${max}, got ${JSON.stringify(text)}`)
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}

/** Which client addresses may use the proxy: loopback always, plus the configured networks. */
export class ClientNetworks {
  private readonly list = new BlockList()

  constructor (cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const { address, prefix, family } = parseCidr(cidr)
      this.list.addSubnet(address, prefix, family)
    }
  }

  allows (address: string | undefined): boolean {
    if (address === undefined) return false
    if (isLoopbackAddress(address)) return true
    const plain = unmapped(address)
    const family = isIP(plain) === 4 ? 'ipv4' : 'ipv6'
    return this.list.check(plain, family)
  }
}

/**
 * Which hosts the node forwards to or fetches from: globs over the host name, `*` standing
 * for any run of characters (`*.hf.co`, `cdn-lfs*.hf.co`); a lone `*` allows every host.
 */
export class UpstreamHosts {
  private readonly patterns: RegExp[]

  constructor (globs: readonly string[]) {
    this.patterns = globs.map(globToRegExp)
  }

  allows (host: string): boolean {
    const name = host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase()
    return this.patterns.some(pattern => pattern.test(name))
  }

  /** A URL whose host is allowed. */
  allowsUrl (url: string | URL): boolean {
    try {
      return this.allows((typeof url === 'string' ? new URL(url) : url).hostname)
    } catch {
      return false
    }
  }
}

export function checkHostGlob (text: string): string {
  if (!/^[a-z0-9*.:_-]+$/i.test(text.replace(/^\[|\]$/g, ''))) throw new ConfigError(`expected a host name pattern such as *.hf.co, got ${JSON.stringify(text)}`)
  return text
}

function globToRegExp (glob: string): RegExp {
  const body = glob.replace(/^\[|\]$/g, '').toLowerCase().split('*').map(part => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')
  return new RegExp(`^${body}$`)
}
