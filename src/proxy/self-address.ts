import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'

/** Where the proxy listens, as the server reports it. */
export interface ListeningAddress {
  host: string
  port: number
}

/**
 * Whether `host:port` reaches this proxy, so that forwarding there would loop: the listening
 * port on the listening host, on a name or loopback address of this machine (`localhost`,
 * `*.localhost`, 127.0.0.0/8, `::1`, their IPv4-mapped forms), and, for a wildcard listener
 * (0.0.0.0 or ::), on any address of the machine's interfaces.
 */
export function isOwnAddress (host: string, port: number, listening: ListeningAddress, interfaceAddresses: () => string[] = localAddresses): boolean {
  if (port !== listening.port) return false
  const name = normalise(host)
  const own = normalise(listening.host)
  if (name === own || isLoopback(name) || name === '0.0.0.0' || name === '::') return true
  return (own === '0.0.0.0' || own === '::') && interfaceAddresses().map(normalise).includes(name)
}

function normalise (host: string): string {
  const bare = host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare)
  return mapped?.[1] ?? bare
}

function isLoopback (host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

function localAddresses (): string[] {
  return Object.values(networkInterfaces()).flatMap(list => (list ?? []).map(entry => entry.address))
}
