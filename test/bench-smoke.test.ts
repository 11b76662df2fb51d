import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'
import { skipUnless } from './helpers/system-tools.js'
import { listNamespaces, NETNS_PREFIX } from '../scripts/lib/netns.js'

const run = promisify(execFile)

/**
 * The benchmark programs, run small so that they cannot rot. Timings are not asserted: only
 * that each finishes, prints its table and writes well-formed JSON.
 */
describe('benchmark smoke runs', () => {
  let folder: string

  before(async () => { folder = await tempDir('damselfly-bench-') })
  after(async () => { await rm(folder, { recursive: true, force: true }) })

  const script = (name: string): string => join(repoRoot(), 'dist', 'scripts', `${name}.js`)

  it('bench-memory', { skip: skipUnless('curl') }, async () => {
    const out = join(folder, 'memory.json')
    const { stdout } = await run(process.execPath, [script('bench-memory'), '--size', '8MiB', '--clients', '2', '--out', out])
    assert.match(stdout, /peak RSS MB/)
    const report = JSON.parse(await readFile(out, 'utf8')) as { results: Array<{ byteExact: boolean, peakRssMB: number }> }
    assert.equal(report.results.length, 3)
    for (const result of report.results) {
      assert.equal(result.byteExact, true)
      assert.ok(result.peakRssMB > 0)
    }
  })

  it('bench-load', async () => {
    const out = join(folder, 'load.json')
    const { stdout } = await run(process.execPath, [script('bench-load'), '--clients', '10', '--requests', '100', '--out', out])
    assert.match(stdout, /peak RSS MiB/)
    const report = JSON.parse(await readFile(out, 'utf8')) as { wrong: number, errors: number, peakRssMiB: number }
    assert.equal(report.wrong, 0)
    assert.equal(report.errors, 0)
    assert.ok(report.peakRssMiB > 0)
  })

  it('bench-peer-transfer', { skip: skipUnless('curl') }, async () => {
    const out = join(folder, 'peer.json')
    const { stdout } = await run(process.execPath, [script('bench-peer-transfer'), '--size', '8MiB', '--runs', '1', '--out', out])
    assert.match(stdout, /peer node ← seed/)
    const report = JSON.parse(await readFile(out, 'utf8')) as { rows: Array<{ medianMBps: number }> }
    assert.equal(report.rows.length, 4)
    for (const row of report.rows) assert.ok(row.medianMBps > 0)
  })

  it('bench-crowd: idle CPU and RSS of each node before and after the download, in the table and the JSON', { skip: skipUnless('curl') }, async () => {
    const out = join(folder, 'crowd.json')
    const { stdout } = await run(process.execPath, [script('bench-crowd'), '--nodes', '2', '--size', '4MiB', '--settle-s', '1', '--idle-window-s', '2', '--idle-before', '--out', out])
    assert.match(stdout, /idle CPU % before +RSS MB before +idle CPU % after +RSS MB after/)
    const report = JSON.parse(await readFile(out, 'utf8')) as {
      byteExact: number
      idleCpuPercent: number[]
      idleBefore: { cpuPercent: number[], rssMB: number[] }
      perNode: Array<{ pid: number, idleCpuPercentBefore: number, idleRssMBBefore: number, idleCpuPercent: number, idleRssMB: number, peakRssMB: number }>
    }
    assert.equal(report.byteExact, 2)
    assert.equal(report.perNode.length, 2)
    for (const node of report.perNode) {
      for (const percent of [node.idleCpuPercentBefore, node.idleCpuPercent]) assert.ok(Number.isFinite(percent) && percent >= 0, `CPU % ${percent}`)
      assert.ok(node.idleRssMBBefore > 0 && node.idleRssMB > 0 && node.peakRssMB >= node.idleRssMB)
    }
    assert.deepEqual(report.idleBefore.cpuPercent, report.perNode.map(node => node.idleCpuPercentBefore))
  })

  it('bench-startup: a start of the installed command, CPU and wall seconds, in the table and the JSON', async () => {
    const out = join(folder, 'startup.json')
    const { stdout } = await run(process.execPath, [script('bench-startup'), '--runs', '1', '--out', out], { cwd: repoRoot() })
    assert.match(stdout, /CPU s \(median\)/)
    assert.match(stdout, /load average: /)
    const report = JSON.parse(await readFile(out, 'utf8')) as { results: Array<{ bin: string, medianCpuSeconds: number, medianWallSeconds: number }> }
    assert.equal(report.results.length, 1)
    assert.equal(report.results[0]!.bin, join(repoRoot(), 'bin', 'damselfly.js'))
    assert.ok(report.results[0]!.medianCpuSeconds > 0 && report.results[0]!.medianWallSeconds > 0, JSON.stringify(report.results[0]))
  })

  it('bench-hashing', async () => {
    const out = join(folder, 'hashing.json')
    const { stdout } = await run(process.execPath, [script('bench-hashing'), '--mib', '4', '--out', out])
    assert.match(stdout, /event-loop utilisation/)
    const report = JSON.parse(await readFile(out, 'utf8')) as { rows: Array<{ MBps: number, elu: number }> }
    assert.equal(report.rows.length, 10)
    for (const row of report.rows) assert.ok(row.MBps > 0 && row.elu >= 0 && row.elu <= 1)
  })

  it('bench-budget: every stage of the node path costs some CPU, and the ceiling follows from them', async () => {
    const out = join(folder, 'budget.json')
    const { stdout } = await run(process.execPath, [script('bench-budget'), '--mib', '16', '--runs', '1', '--out', out])
    assert.match(stdout, /ceiling MB\/s on \d+ cores/)
    const report = JSON.parse(await readFile(out, 'utf8')) as { stages: Record<string, number>, paths: Record<string, { sender: number, receiver: number, ceilingMBps: number }> }
    assert.deepEqual(Object.keys(report.stages).sort(), ['open', 'read', 'seal', 'sha256', 'tcp', 'write'])
    for (const [stage, cpu] of Object.entries(report.stages)) assert.ok(cpu > 0, `${stage}: ${cpu} CPU s/GiB`)
    const { 'node-encrypted': encrypted, 'node-plain': plain } = report.paths
    assert.ok(encrypted !== undefined && plain !== undefined)
    assert.ok(encrypted.sender > plain.sender && encrypted.ceilingMBps < plain.ceilingMBps, 'sealing and opening cost CPU')
  })

  it('bench-p2p', async () => {
    const out = join(folder, 'p2p.json')
    const { stdout } = await run(process.execPath, [script('bench-p2p'), '--size', '4MiB', '--runs', '1', '--paths', 'tcp,libp2p-stock,side-plain-tuned,node-plain', '--verify', '--out', out,
      // A smoke run checks the bytes, not the speed: no waiting for an idle machine (60 s a run)
      // and no repeats of a disturbed run (4), which a suite always disturbs.
      '--idle-wait', '0', '--attempts', '1'])
    assert.match(stdout, /libp2p-stock/)
    assert.match(stdout, /node-plain ÷ side-plain-tuned/)
    const report = JSON.parse(await readFile(out, 'utf8')) as { results: Array<{ path: string, median: { mbps: number } }>, ratios: Array<{ path: string, ratio: number }> }
    assert.deepEqual(report.results.map(result => result.path), ['tcp', 'libp2p-stock', 'side-plain-tuned', 'node-plain'])
    for (const result of report.results) assert.ok(result.median.mbps > 0)
    assert.ok(report.ratios.some(ratio => ratio.path === 'node-plain' && ratio.ratio > 0))
  })

  it('bench-scenarios: the five scenarios and nginx, byte-exact, no CDN bytes for the peer rows', { skip: skipUnless('curl', 'nginx') }, async () => {
    const out = join(folder, 'scenarios.json')
    const chart = join(folder, 'scenarios.svg')
    const { stdout } = await run(process.execPath, [script('bench-scenarios'), '--smoke', '--out', out, '--chart', chart])
    assert.match(stdout, /remote peer/)
    const report = JSON.parse(await readFile(out, 'utf8')) as {
      groups: Array<{ byteExact: boolean, cdnBytesDuringPeerRows: number, peakRssMB: { seed: number, peer: number }, scenarios: Array<{ scenario: string, seconds: number[] }> }>
    }
    assert.equal(report.groups.length, 1)
    const group = report.groups[0]!
    assert.equal(group.byteExact, true)
    assert.equal(group.cdnBytesDuringPeerRows, 0)
    assert.ok(group.peakRssMB.seed > 0 && group.peakRssMB.peer > 0)
    assert.deepEqual(group.scenarios.map(result => result.scenario), ['direct', 'cold node', 'remote peer', 'local node', 'client cache', 'nginx (local limit)'])
    assert.match(await readFile(chart, 'utf8'), /^<svg/)
  })

  it('bench-swarm: two hosts in network namespaces, byte-exact, the origin serving the swarm once, none left behind', { skip: skipUnless('netns', 'curl') }, async () => {
    const out = join(folder, 'swarm.json')
    const chart = join(folder, 'swarm.svg')
    const running = run(process.execPath, [script('bench-swarm'), '--smoke', '--out', out, '--chart', chart])
    const pid = running.child.pid
    const { stdout } = await running
    assert.match(stdout, /T\*/)
    const report = JSON.parse(await readFile(out, 'utf8')) as {
      size: number
      results: Array<{
        mode: string, hosts: number, byteExact: boolean, unfinishedHosts: number, originBytes: number
        cpu: { nodeSeconds: number[] }
        upload: { use: Array<number | null> } | null
        trace: { hosts: Array<Array<[number, number, number, number, number, number, number]>> } | null
        received: { perFile: Array<number | null>, wastedTotal: number | null } | null
      }>
    }
    assert.deepEqual(report.results.map(result => [result.mode, result.hosts, result.byteExact, result.unfinishedHosts]), [['swarm', 2, true, 0], ['direct', 2, true, 0]])
    const [swarm, direct] = report.results as [typeof report.results[0], typeof report.results[0]]
    // Every direct client took the whole file from the origin; the swarm took it about once
    // (issue 12's bound: at most 1.05× the file).
    assert.ok(swarm.originBytes >= report.size)
    assert.ok(swarm.originBytes <= 1.05 * report.size, `the swarm's origin bytes: ${swarm.originBytes / report.size}× the file`)
    assert.ok(direct.originBytes >= 2 * report.size)
    // The round's traces: each node's CPU, and its byte counters read over the management
    // network. What the origin did not serve twice came from a peer, and was uploaded by one.
    assert.equal(swarm.cpu.nodeSeconds.length, 2)
    assert.ok(swarm.cpu.nodeSeconds.every(seconds => seconds > 0), String(swarm.cpu.nodeSeconds))
    assert.equal(swarm.trace?.hosts.length, 2)
    const last = swarm.trace.hosts.map(series => series.at(-1)!)
    const sum = (column: 1 | 2 | 3 | 4): number => last.reduce((total, sample) => total + sample[column], 0)
    assert.ok(sum(2) + sum(3) >= 2 * report.size, `the nodes counted ${sum(2) + sum(3)} task bytes`)
    assert.ok(sum(2) >= 2 * report.size - swarm.originBytes, `peer bytes ${sum(2)}, origin ${swarm.originBytes}`)
    assert.ok(sum(1) >= sum(2), `uploaded ${sum(1)}, received from peers ${sum(2)}`)
    // The links carried at least the piece bytes the nodes uploaded.
    assert.ok(sum(4) >= sum(1), `the hosts' links carried ${sum(4)} bytes up, their nodes uploaded ${sum(1)}`)
    assert.equal(swarm.upload?.use.length, 2)
    // Each host's link carried at least the file down; the nodes' wasted piece bytes were read.
    assert.ok(swarm.received?.perFile.every(share => share !== null && share >= 1), JSON.stringify(swarm.received))
    assert.equal(typeof swarm.received?.wastedTotal, 'number')
    assert.equal(direct.trace, null)
    assert.equal(direct.received, null)
    assert.match(await readFile(chart, 'utf8'), /^<svg/)
    const left = listNamespaces().filter(name => name.startsWith(`${NETNS_PREFIX}${pid}-`))
    assert.deepEqual(left, [])
  })
})
