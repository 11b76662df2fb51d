import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'

/**
 * A loopback TCP port nothing listens on right now, for a process that must be told its port
 * before it starts. It is picked below the kernel's ephemeral range: a port from that range can be
 * taken by any outgoing connection (of this or a parallel test file) between this check and the
 * listen, which is how CI once saw EADDRINUSE.
 */
export async function freePort (): Promise<number> {
  const [lowestEphemeral] = await ephemeralRange()
  const low = 10_000
  const high = Math.max(low + 1_000, lowestEphemeral)
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low))
    if (await canListen(port)) return port
  }
  throw new Error(`no free port in ${low}-${high} after 100 tries`)
}

async function ephemeralRange (): Promise<[number, number]> {
  try {
    const [low, high] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number)
    if (low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high)) return [low, high]
  } catch {}
  return [32_768, 60_999] // Linux's default
}

async function canListen (port: number): Promise<boolean> {
  const server = createServer()
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => resolve(true))
  })
  if (listening) await new Promise(resolve => server.close(resolve))
  return listening
}
