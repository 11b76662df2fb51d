/** The processes of a round: the fake Hub in the origin namespace and one node per host. */
import { execFile, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateAdminToken } from '../../src/admin/admin-token-file.js'
import { spawnNode, type NodeProcess } from '../../test/helpers/nodes.js'
import type { NodeStatus } from '../../test/helpers/status.js'
import { waitFor } from '../../test/helpers/wait.js'
import { startFakeHubProcess, type FakeHubInfo } from '../lib/fake-hub-process.js'
import type { NetnsHost } from '../lib/netns.js'
import { settings } from './options.js'

const exec = promisify(execFile)

/** The port every node's admin server listens on, on its host's management address. */
export const adminPort = 4003

/** Runs curl inside a namespace and parses its JSON answer (the root namespace has no route in). */
export async function nsJson<T> (host: NetnsHost, url: string, method = 'GET'): Promise<T> {
  const [command, ...args] = [...host.exec, 'curl', '-sS', '-X', method, url]
  const { stdout } = await exec(command!, args)
  return JSON.parse(stdout) as T
}

/** Starts the fake Hub in the origin namespace and reads the URLs it prints. */
export async function startOrigin (origin: NetnsHost, size: number, fixtureDir: string, children: Set<ChildProcess>): Promise<{ child: ChildProcess, info: FakeHubInfo }> {
  const started = await startFakeHubProcess(['--host', origin.address, '--port', '8080', '--cdn-port', '8081', '--stats-port', '8082',
    '--size', String(size), '--fixture-dir', fixtureDir], origin.exec)
  children.add(started.child)
  started.child.on('exit', () => children.delete(started.child))
  return started
}

/** An admin token file, which a node needs to let its admin port listen beyond loopback. */
export async function writeAdminToken (folder: string): Promise<string> {
  const path = join(folder, 'admin-token')
  await writeFile(path, generateAdminToken() + '\n', { mode: 0o600 })
  return path
}

export interface StartNodesInit {
  hosts: NetnsHost[]
  originAddress: string
  adminTokenFile: string
  /** Each started node's data folder goes here (removed by a signal handler; stop() will not run). */
  nodeDirs: Set<string>
}

/**
 * Starts one node per host, host 0 first, the others bootstrapped through it, all seeds; each
 * node's admin port listens on its host's management address (see `adminPort`).
 */
export async function startNodes (init: StartNodesInit): Promise<NodeProcess[]> {
  const { hosts } = init
  const flags = (host: NetnsHost): string[] => ['--role', 'seed', '--p2p-listen', `/ip4/${host.address}/tcp/4001`, '--data-listen', `${host.address}:4002`,
    '--admin-listen', `${host.managementAddress}:${adminPort}`, '--admin-token-file', init.adminTokenFile, '--allowed-upstreams', init.originAddress, ...settings.nodeFlags]
  const nodes: NodeProcess[] = []
  // A profile is written when the node exits: bench-swarm stops nodes with SIGTERM, so it is.
  const nodeArgs = settings.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`]
  const spawn = async (flags: string[], host: NetnsHost): Promise<NodeProcess> => await spawnNode(flags, undefined, {}, host.exec, undefined, nodeArgs)
  try {
    const first = await spawn(flags(hosts[0]!), hosts[0]!)
    nodes.push(first)
    init.nodeDirs.add(first.dataDir)
    const bootstrap = first.info.multiaddrs.find(address => address.includes(`/ip4/${hosts[0]!.address}/`))
    if (bootstrap === undefined) throw new Error(`host 0's node does not listen on ${hosts[0]!.address}: ${first.info.multiaddrs.join(' ')}`)
    const started = await Promise.allSettled(hosts.slice(1).map(async host => await spawn([...flags(host), '--bootstrap', bootstrap], host)))
    for (const result of started) {
      if (result.status === 'fulfilled') {
        nodes.push(result.value)
        init.nodeDirs.add(result.value.dataDir)
      }
    }
    const failed = started.find(result => result.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    // Everyone must know everyone before the clients start: otherwise some hosts would not
    // see the elected seeds yet and fetch from the origin themselves.
    await waitFor(`all ${hosts.length} nodes to see each other`, async () => {
      const statuses = await Promise.all(nodes.map(async (node, index) => await nsJson<NodeStatus>(hosts[index]!, `http://${node.info.admin}/api/status`)))
      return statuses.every(status => status.peers.length >= hosts.length - 1)
    }, 60_000)
    return nodes
  } catch (err) {
    await Promise.all(nodes.map(async node => await node.stop()))
    for (const node of nodes) init.nodeDirs.delete(node.dataDir)
    throw err
  }
}
