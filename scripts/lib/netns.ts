import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { unmet } from '../../test/helpers/system-tools.js'

const exec = promisify(execFile)

/**
 * Every namespace a benchmark makes is named `${NETNS_PREFIX}<pid>-<name>`: the pid of the
 * process that made it, so that a later run can tell a leftover of a dead run from a live
 * one's and remove only the former.
 */
export const NETNS_PREFIX = 'dmsb'

/** One host of the testbed: its namespace and its address on the shared link. */
export interface NetnsHost {
  ns: string
  address: string
  /**
   * Its address on the management network: a second, uncapped link to a bridge in the router
   * namespace, so that a sampler there can read every host (e.g. its admin port) without
   * taking from the capped links the benchmark measures.
   */
  managementAddress: string
  /** The router's end of its link (`v<n>`): the bytes that end receives are the host's upload, those it sends its download. */
  routerLink: string
  /** Prefix a command with this to run it inside the host, e.g. [...host.exec, 'curl', url]. */
  exec: string[]
}

export interface TestbedInit {
  hosts: number
  /** Bytes per second the origin may send (u_s). */
  originUp: number
  /** Bytes per second each host may send (u). */
  hostUp: number
  /** Bytes per second each host may receive (d). */
  hostDown: number
}

export interface Testbed {
  origin: NetnsHost
  hosts: NetnsHost[]
  /** The router namespace, where the management network's bridge has its address. */
  router: NetnsHost
  /** Deletes every namespace of this testbed (their links go with them). */
  destroy: () => void
}

/** Why namespaces cannot be made here (not Linux, not root, no ip or tc), or undefined when they can. */
export function netnsUnavailable (): string | undefined {
  return unmet('netns')
}

export function listNamespaces (): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n').map(line => line.split(' ')[0] ?? '').filter(name => name !== '')
}

/** Removes namespaces left by benchmark runs whose process is gone; returns their names. */
export function removeStaleNamespaces (): string[] {
  const stale = listNamespaces().filter(name => {
    const pid = new RegExp(`^${NETNS_PREFIX}(\\d+)-`).exec(name)?.[1]
    return pid !== undefined && !existsSync(`/proc/${pid}`)
  })
  for (const name of stale) deleteNamespace(name)
  return stale
}

function deleteNamespace (name: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' })
  } catch {}
}

async function ip (...args: string[]): Promise<void> {
  await exec('ip', args)
}

/** A token bucket on `dev`'s egress: the link's rate in that direction. */
export async function capEgress (ns: string, dev: string, bytesPerSecond: number): Promise<void> {
  // The bucket holds ~20 ms of traffic (at least 64 KiB, so that one GSO segment fits).
  const burst = Math.max(65536, Math.round(bytesPerSecond / 50))
  await exec('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf',
    'rate', `${Math.round(bytesPerSecond * 8)}bit`, 'burst', String(burst), 'latency', '200ms'])
}

/** Sets a host's upload (u) to `bytesPerSecond`: its own side of its link. */
export async function setHostUp (host: NetnsHost, bytesPerSecond: number): Promise<void> {
  await capEgress(host.ns, 'eth0', bytesPerSecond)
}

/**
 * An origin and `hosts` hosts, each a network namespace with one veth link to a bridge in a
 * router namespace (one /24 between them, 10.77.0.1 the origin, .2… the hosts). Rates are token
 * buckets on the links' egress: the origin's and each host's own side cap what they send, the
 * bridge side of a host's link caps what it receives. Nothing touches the root namespace.
 * Beside it, an uncapped management network (10.78.0.0/24, same host numbers, the router at
 * .254) on a second bridge and a second veth per host, for reading the hosts while they work.
 */
export async function createTestbed (init: TestbedInit): Promise<Testbed> {
  const base = `${NETNS_PREFIX}${process.pid}-`
  const router = `${base}r`
  const made: string[] = []
  const destroy = (): void => {
    for (const name of made.reverse()) deleteNamespace(name)
    made.length = 0
  }
  const addNamespace = async (name: string): Promise<void> => {
    await ip('netns', 'add', name)
    made.push(name)
    await ip('-n', name, 'link', 'set', 'lo', 'up')
  }
  const attach = async (name: string, index: number): Promise<NetnsHost> => {
    await addNamespace(name)
    const address = `10.77.0.${index}`
    await ip('-n', router, 'link', 'add', `v${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name)
    await ip('-n', router, 'link', 'set', `v${index}`, 'master', 'br0', 'up')
    await ip('-n', name, 'addr', 'add', `${address}/24`, 'dev', 'eth0')
    await ip('-n', name, 'link', 'set', 'eth0', 'up')
    const managementAddress = `10.78.0.${index}`
    await ip('-n', router, 'link', 'add', `m${index}`, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', name)
    await ip('-n', router, 'link', 'set', `m${index}`, 'master', 'br1', 'up')
    await ip('-n', name, 'addr', 'add', `${managementAddress}/24`, 'dev', 'mgmt0')
    await ip('-n', name, 'link', 'set', 'mgmt0', 'up')
    return { ns: name, address, managementAddress, routerLink: `v${index}`, exec: ['ip', 'netns', 'exec', name] }
  }
  try {
    await addNamespace(router)
    await ip('-n', router, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', router, 'link', 'set', 'br0', 'up')
    await ip('-n', router, 'link', 'add', 'br1', 'type', 'bridge')
    await ip('-n', router, 'addr', 'add', '10.78.0.254/24', 'dev', 'br1')
    await ip('-n', router, 'link', 'set', 'br1', 'up')
    const origin = await attach(`${base}o`, 1)
    await capEgress(origin.ns, 'eth0', init.originUp)
    const hosts: NetnsHost[] = []
    for (let index = 0; index < init.hosts; index++) {
      const host = await attach(`${base}h${index}`, index + 2)
      await capEgress(host.ns, 'eth0', init.hostUp)
      await capEgress(router, `v${index + 2}`, init.hostDown)
      hosts.push(host)
    }
    const routerHost: NetnsHost = { ns: router, address: '10.78.0.254', managementAddress: '10.78.0.254', routerLink: 'br1', exec: ['ip', 'netns', 'exec', router] }
    return { origin, hosts, router: routerHost, destroy }
  } catch (err) {
    destroy()
    throw err
  }
}
