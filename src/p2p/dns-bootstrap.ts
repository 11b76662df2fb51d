import { lookup } from 'node:dns/promises'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { abortable } from '../abort.js'

/** A name to resolve and the libp2p port the nodes behind it listen on. */
export interface DnsBootstrapName {
  host: string
  port: number
}

/** Every address of a name, IPv4 and IPv6; a name that resolves to nothing gives []. */
export type ResolveAddresses = (host: string, signal: AbortSignal) => Promise<Array<{ address: string, family: number }>>

/**
 * The system resolver (getaddrinfo): DNS A and AAAA records, /etc/hosts too. A headless
 * Service answers with one record per ready pod, so this yields every seed.
 */
export const systemResolver: ResolveAddresses = async (host, signal) => {
  try {
    return await abortable(lookup(host, { all: true, verbatim: true }), signal)
  } catch (error) {
    // A name with no records yet (no seed ready) is an ordinary state, not a failure.
    if ((error as { code?: unknown }).code === 'ENOTFOUND' || (error as { code?: unknown }).code === 'ENODATA') return []
    throw error
  }
}

/**
 * The TCP multiaddrs of every node behind the names, without /p2p/: libp2p dials an address
 * with no peer id and learns who answered from the noise handshake.
 */
export async function resolveBootstrapNames (names: readonly DnsBootstrapName[], resolve: ResolveAddresses, signal: AbortSignal): Promise<Multiaddr[]> {
  const found = await Promise.all(names.map(async ({ host, port }) => {
    const records = await resolve(host, signal)
    return records.map(({ address, family }) => multiaddr(`/${family === 6 ? 'ip6' : 'ip4'}/${address}/tcp/${port}`))
  }))
  const unique = new Map(found.flat().map(address => [address.toString(), address]))
  return [...unique.values()]
}
