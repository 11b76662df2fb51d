/**
 * The container image and the Kubernetes manifests cannot be run here (no container engine, no
 * cluster), so this test reads them and checks what must hold for them to work: the flags they
 * pass are the CLI's and load as a configuration, the probes hit paths a real node answers, the
 * cache volume is mounted where --data-dir points, the PSK and admin token Secrets are the files
 * --psk-file and DAMSELFLY_ADMIN_TOKEN_FILE name, and the seeds' headless Service is the name the
 * nodes bootstrap from.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { mallocTunables, nodeFlags, nodeOptions } from '../src/cli/process-tuning.js'
import { loadConfig, options, parseDnsName, parseHostPort } from '../src/config/index.js'
import { startNode, tempDir, type RunningNode } from './helpers/nodes.js'
import { repoRoot } from './helpers/repo-root.js'

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML, read by path */
type Manifest = Record<string, any>

const baseDir = join(repoRoot(), 'deploy', 'base')

async function readManifests (): Promise<{ kustomization: Manifest, resources: Manifest[], files: string[] }> {
  const files = (await readdir(baseDir)).filter(name => name.endsWith('.yaml'))
  const resources: Manifest[] = []
  let kustomization: Manifest | undefined
  for (const file of files) {
    for (const document of parseAllDocuments(await readFile(join(baseDir, file), 'utf8'))) {
      assert.deepEqual(document.errors, [], `${file} parses`)
      const value = document.toJS() as Manifest | null
      if (value === null) continue
      if (file === 'kustomization.yaml') kustomization = value
      else resources.push({ ...value, _file: file })
    }
  }
  assert.ok(kustomization !== undefined, 'deploy/base/kustomization.yaml exists')
  return { kustomization, resources, files }
}

function find (resources: Manifest[], kind: string): Manifest {
  const found = resources.filter(resource => resource.kind === kind)
  assert.equal(found.length, 1, `one ${kind}`)
  return found[0]!
}

function nodeContainer (workload: Manifest): Manifest {
  const container = workload.spec.template.spec.containers.find((candidate: Manifest) => candidate.name === 'damselfly')
  assert.ok(container !== undefined, `${String(workload.metadata.name)} has a damselfly container`)
  return container
}

/** `--flag=value` and `--flag value` pairs of the `start` command, in order. */
function flagsOf (container: Manifest): Array<[string, string]> {
  const args = container.args as string[]
  assert.equal(args[0], 'start', 'the container runs `damselfly start`')
  const pairs: Array<[string, string]> = []
  for (let index = 1; index < args.length; index++) {
    const arg = args[index]!
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg)
    assert.ok(match !== null, `argument ${arg} is a --flag`)
    pairs.push([match[1]!, match[2] ?? args[++index] ?? ''])
  }
  return pairs
}

function flag (container: Manifest, name: string): string {
  const values = flagsOf(container).filter(([flagName]) => flagName === name).map(([, value]) => value)
  assert.equal(values.length, 1, `one --${name}`)
  return values[0]!
}

/** The image's `DAMSELFLY_*` variables (the Dockerfile's ENV), which every container starts with. */
async function imageEnv (): Promise<Record<string, string>> {
  const text = (await readFile(join(repoRoot(), 'Dockerfile'), 'utf8')).replace(/\\\n\s*/g, ' ')
  const env: Record<string, string> = {}
  for (const line of text.split('\n').filter(line => /^ENV\s/i.test(line.trim()))) {
    for (const [, name, value] of line.matchAll(/(DAMSELFLY_[A-Z0-9_]+)=("[^"]*"|\S+)/g)) env[name!] = value!.replace(/^"|"$/g, '')
  }
  return env
}

/** The container's `DAMSELFLY_*` variables with a literal value, as the node's environment. */
function damselflyEnv (container: Manifest): Record<string, string> {
  const variables = ((container.env ?? []) as Manifest[]).filter(variable => String(variable.name).startsWith('DAMSELFLY_'))
  for (const variable of variables) assert.equal(typeof variable.value, 'string', `${String(variable.name)} has a literal value`)
  return Object.fromEntries(variables.map(variable => [String(variable.name), String(variable.value)]))
}

function envValue (container: Manifest, name: string): string {
  const value = damselflyEnv(container)[name]
  assert.ok(value !== undefined, `the container sets ${name}`)
  return value
}

function containerPort (container: Manifest, port: string | number): number {
  if (typeof port === 'number') return port
  const named = (container.ports as Manifest[]).find(candidate => candidate.name === port)
  assert.ok(named !== undefined, `port ${port} is declared`)
  return named.containerPort as number
}

function mountOf (workload: Manifest, container: Manifest, path: string): { mount: Manifest, volume: Manifest | undefined, claim: Manifest | undefined } {
  const mount = (container.volumeMounts as Manifest[]).find(candidate => candidate.mountPath === path)
  assert.ok(mount !== undefined, `a volume is mounted at ${path}`)
  const volume = (workload.spec.template.spec.volumes as Manifest[] | undefined)?.find(candidate => candidate.name === mount.name)
  const claim = (workload.spec.volumeClaimTemplates as Manifest[] | undefined)?.find(candidate => candidate.metadata.name === mount.name)
  assert.ok(volume !== undefined || claim !== undefined, `volume ${String(mount.name)} exists`)
  return { mount, volume, claim }
}

const isLoopback = (host: string): boolean => host === 'localhost' || host.startsWith('127.') || host === '::1'

/**
 * The Secret mounted where an option's FILE points: mounted read-only, the named key is that
 * file, readable by the node user (fsGroup) and nobody else.
 */
function checkSecretFile (workload: Manifest, container: Manifest, file: string, secret: { name: string, key: string }): void {
  const { mount, volume } = mountOf(workload, container, posix.dirname(file))
  assert.equal(mount.readOnly, true, `the ${secret.name} mount is read-only`)
  assert.equal(volume?.secret?.secretName, secret.name)
  const items = volume?.secret?.items as Manifest[]
  assert.ok(items.some(item => item.key === secret.key && item.path === posix.basename(file)), `the secret key ${secret.key} is the file ${file}`)
  const pod = workload.spec.template.spec
  assert.equal(pod.securityContext.fsGroup, pod.securityContext.runAsUser)
  assert.equal(volume?.secret?.defaultMode & 0o007, 0, `${secret.name} is not world-readable`)
}

describe('deploy/ manifests', () => {
  let kustomization: Manifest
  let resources: Manifest[]
  let files: string[]
  let peers: Manifest
  let seeds: Manifest
  let service: Manifest
  let node: RunningNode
  let tokenFolder: string

  before(async () => {
    ({ kustomization, resources, files } = await readManifests())
    peers = find(resources, 'DaemonSet')
    seeds = find(resources, 'StatefulSet')
    service = find(resources, 'Service')
    // As deployed: the admin port beyond loopback, with a token. Probes and Prometheus must
    // still get in without one.
    tokenFolder = await tempDir('damselfly-manifest-token-')
    await writeFile(join(tokenFolder, 'token'), `${'0123456789abcdef'.repeat(4)}\n`)
    node = await startNode(['--admin-listen', '0.0.0.0:0', '--admin-token-file', join(tokenFolder, 'token')])
  })

  after(async () => {
    await node.stop()
    await rm(tokenFolder, { recursive: true, force: true })
  })

  it('kustomization lists every manifest, and only existing ones', () => {
    const listed = new Set(kustomization.resources as string[])
    const manifests = files.filter(file => file !== 'kustomization.yaml')
    assert.deepEqual([...listed].sort(), manifests.sort())
    assert.ok(resources.some(resource => resource.kind === 'Namespace' && resource.metadata.name === kustomization.namespace))
  })

  for (const [what, workload] of [['peers', () => peers], ['seeds', () => seeds]] as const) {
    it(`${what}: every flag is one of the CLI's, and together they load as a configuration`, async () => {
      const container = nodeContainer(workload())
      const known = new Set(options.map(option => option.flag))
      for (const [name] of flagsOf(container)) assert.ok(known.has(name), `--${name} is in src/config/options.ts`)
      const knownEnv = new Set(options.map(option => option.env))
      for (const variable of (container.env ?? []) as Manifest[]) {
        if (String(variable.name).startsWith('DAMSELFLY_')) assert.ok(knownEnv.has(variable.name), `${String(variable.name)} is in src/config/options.ts`)
      }
      const config = await loadConfig({ argv: (container.args as string[]).slice(1), env: damselflyEnv(container) })
      assert.equal(config.role, what === 'peers' ? 'peer' : 'seed')
      // What `kubectl exec … damselfly status|get` load: the image's and the container's
      // variables, no flags. It must load too (the image's admin port is beyond loopback).
      const exec = { ...await imageEnv(), ...damselflyEnv(container) }
      assert.ok(exec.DAMSELFLY_ADMIN_LISTEN !== undefined, 'the Dockerfile sets DAMSELFLY_ADMIN_LISTEN')
      await loadConfig({ argv: [], env: exec })
    })

    it(`${what}: liveness and readiness probes hit admin paths a running node answers`, async () => {
      const container = nodeContainer(workload())
      const admin = parseHostPort(flag(container, 'admin-listen'))
      // Kubelet probes the pod IP: the admin server must listen beyond loopback.
      assert.ok(!isLoopback(admin.host), `admin listens on ${admin.host}`)
      const adminPort = node.info.admin.split(':').pop() ?? ''
      const probes = { livenessProbe: '/healthy', readinessProbe: '/readyz' }
      for (const [probe, path] of Object.entries(probes)) {
        const httpGet = container[probe]?.httpGet as Manifest | undefined
        assert.ok(httpGet !== undefined, `${probe} is an httpGet`)
        assert.equal(httpGet.path, path)
        assert.equal(containerPort(container, httpGet.port), admin.port, `${probe} probes the admin port`)
        assert.equal(httpGet.httpHeaders, undefined, 'probes carry no token')
        const response = await fetch(`http://127.0.0.1:${adminPort}${String(httpGet.path)}`)
        assert.equal(response.status, 200, `a node with an admin token answers ${String(httpGet.path)} without one`)
      }
      const annotations = workload().spec.template.metadata.annotations as Manifest
      assert.equal(annotations['prometheus.io/scrape'], 'true')
      assert.equal(Number(annotations['prometheus.io/port']), admin.port)
      assert.equal(annotations['prometheus.io/path'], '/metrics')
      const metrics = await fetch(`http://127.0.0.1:${adminPort}${String(annotations['prometheus.io/path'])}`)
      assert.equal(metrics.status, 200, 'Prometheus scrapes without a token')
      await metrics.body?.cancel()
    })

    it(`${what}: the admin port beyond loopback has a token, from the admin token Secret; changes need it`, async () => {
      const container = nodeContainer(workload())
      assert.ok(!isLoopback(parseHostPort(flag(container, 'admin-listen')).host))
      // In the environment, so that `kubectl exec … damselfly preheat` finds the same file.
      assert.ok(!flagsOf(container).some(([name]) => name === 'admin-token-file'), 'one place names the file')
      checkSecretFile(workload(), container, envValue(container, 'DAMSELFLY_ADMIN_TOKEN_FILE'), { name: 'damselfly-admin-token', key: 'token' })
      const secrets = resources.filter(resource => resource.kind === 'Secret')
      assert.deepEqual(secrets, [], 'no Secret is committed: the operator makes each one (docs/operations.md)')
      const adminPort = node.info.admin.split(':').pop() ?? ''
      const refused = await fetch(`http://127.0.0.1:${adminPort}/api/preheat`, { method: 'POST', body: '{}' })
      assert.equal(refused.status, 401, 'a node started this way refuses preheats without the token')
      await refused.body?.cancel()
    })

    it(`${what}: the cache volume is mounted where --data-dir points, the PSK Secret where --psk-file points`, () => {
      const container = nodeContainer(workload())
      const dataDir = flag(container, 'data-dir')
      const cache = mountOf(workload(), container, dataDir)
      assert.notEqual(cache.mount.readOnly, true)
      if (what === 'peers') assert.equal(cache.volume?.hostPath?.path, dataDir, 'the peers keep their cache on the host, across pod restarts')
      else assert.ok(cache.claim !== undefined, 'each seed keeps its cache on a PersistentVolumeClaim')
      checkSecretFile(workload(), container, flag(container, 'psk-file'), { name: 'damselfly-psk', key: 'swarm.key' })
    })

    it(`${what}: bootstraps through the seeds' headless Service, on the port the seeds listen on`, () => {
      const container = nodeContainer(workload())
      const name = parseDnsName(flag(container, 'bootstrap-dns'))
      assert.equal(name.host, `${String(service.metadata.name)}.${String(kustomization.namespace)}.svc.cluster.local`)
      const servicePort = (service.spec.ports as Manifest[]).find(port => port.name === 'p2p')
      assert.equal(name.port, servicePort?.port)
    })

    it(`${what}: runs unprivileged, with requests above the measured ~200 MB peak RSS`, () => {
      const container = nodeContainer(workload())
      const pod = workload().spec.template.spec
      assert.equal(pod.securityContext.runAsNonRoot, true)
      assert.notEqual(pod.securityContext.runAsUser, 0)
      assert.equal(container.securityContext.allowPrivilegeEscalation, false)
      assert.deepEqual(container.securityContext.capabilities.drop, ['ALL'])
      const mebibytes = (text: string): number => Number(/^(\d+)Mi$/.exec(text)?.[1] ?? Number.NaN)
      const request = mebibytes(container.resources.requests.memory)
      const limit = mebibytes(container.resources.limits.memory)
      assert.ok(request >= 200 && limit >= request * 2, `memory request ${request}Mi, limit ${limit}Mi`)
    })
  }

  it('the headless Service selects the seeds and nothing else, and exposes their p2p port', () => {
    assert.equal(service.spec.clusterIP, 'None')
    assert.equal(seeds.spec.serviceName, service.metadata.name)
    const selects = (labels: Manifest): boolean => Object.entries(service.spec.selector as Manifest).every(([key, value]) => labels[key] === value)
    assert.ok(selects(seeds.spec.template.metadata.labels), 'selects the seed pods')
    assert.ok(!selects(peers.spec.template.metadata.labels), 'does not select the peer pods')
    const seedContainer = nodeContainer(seeds)
    const p2p = (service.spec.ports as Manifest[]).find(port => port.name === 'p2p')
    assert.ok(p2p !== undefined)
    const listen = flagsOf(seedContainer).filter(([name]) => name === 'p2p-listen').map(([, value]) => value)
    assert.ok(listen.some(address => address.endsWith(`/tcp/${containerPort(seedContainer, p2p.targetPort)}`)), 'the target port is a port the seeds listen on')
  })

  it('peers: the proxy is on each host\'s 65001, reachable from the host\'s pods', () => {
    const pod = peers.spec.template.spec
    const container = nodeContainer(peers)
    assert.equal(pod.hostNetwork, true)
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet', 'a hostNetwork pod needs this to resolve the seeds\' Service')
    const proxy = parseHostPort(flag(container, 'proxy-listen'))
    assert.equal(proxy.port, 65001)
    assert.ok(!isLoopback(proxy.host), 'pods on the host reach the proxy on the host IP')
    for (const port of [65001, 65002, 65100, 65101]) {
      const declared = (container.ports as Manifest[]).find(candidate => candidate.containerPort === port)
      assert.equal(declared?.hostPort, port, `port ${port} is declared on the host (the scheduler then sees conflicts)`)
    }
    // A proxy beyond loopback must say which clients may use it, once the CLI has that option.
    const allowList = options.find(option => option.flag === 'allowed-clients')
    if (allowList !== undefined) assert.ok(flagsOf(container).some(([name]) => name === allowList.flag), 'the DaemonSet passes --allowed-clients')
  })
})

describe('Dockerfile', () => {
  let lines: string[]

  before(async () => {
    const text = await readFile(join(repoRoot(), 'Dockerfile'), 'utf8')
    lines = text.replace(/\\\n\s*/g, ' ').split('\n').map(line => line.trim()).filter(line => line !== '' && !line.startsWith('#'))
  })

  const instructions = (name: string): string[] => lines.filter(line => line.toUpperCase().startsWith(`${name} `)).map(line => line.slice(name.length + 1).trim())

  it('is a multi-stage build on the current LTS Node image, the last stage taking only the build output', () => {
    const image = /^NODE_IMAGE=(.+)$/.exec(instructions('ARG')[0] ?? '')?.[1]
    assert.equal(image, 'node:24-bookworm-slim')
    const stages = instructions('FROM')
    assert.deepEqual(stages, ['${NODE_IMAGE} AS build', '${NODE_IMAGE}'])
    const copies = instructions('COPY').filter(copy => copy.startsWith('--from=build'))
    assert.ok(copies.some(copy => copy.includes('/app/dist/src')), 'the compiled sources')
    assert.ok(!copies.some(copy => copy.includes('/app/test') || copy.includes('/app/dist/test')), 'no tests in the final image')
  })

  it('runs as a non-root user, the data dir a volume it owns', () => {
    const users = instructions('USER')
    assert.equal(users.length, 1)
    assert.ok(!['root', '0'].includes(users[0]!))
    const env = instructions('ENV').join(' ')
    const dataDir = /DAMSELFLY_DATA_DIR=(\S+)/.exec(env)?.[1]
    assert.equal(instructions('VOLUME')[0], dataDir)
    assert.ok(instructions('RUN').some(run => run.includes(`chown node:node ${dataDir ?? ''}`)))
  })

  it('exposes the three ports and checks its health on the admin port\'s /healthy', () => {
    assert.deepEqual(instructions('EXPOSE')[0]?.split(/\s+/).map(port => port.replace('/tcp', '')), ['65001', '65002', '65100', '65101'])
    const env = instructions('ENV').join(' ')
    const admin = parseHostPort(/DAMSELFLY_ADMIN_LISTEN=(\S+)/.exec(env)?.[1] ?? '')
    const healthcheck = instructions('HEALTHCHECK')[0] ?? ''
    assert.ok(healthcheck.includes(`http://127.0.0.1:${admin.port}/healthy`), healthcheck)
    assert.deepEqual(JSON.parse(instructions('ENTRYPOINT')[0] ?? ''), ['node', ...nodeFlags, 'bin/damselfly.js'])
  })

  it('starts the node with the settings of process-tuning.ts, as `npm start` does', async () => {
    const env = instructions('ENV').join(' ')
    assert.equal(/GLIBC_TUNABLES=(\S+)/.exec(env)?.[1], mallocTunables)
    assert.equal(/NODE_OPTIONS=(\S+)/.exec(env)?.[1], nodeOptions)
    const scripts = (JSON.parse(await readFile(join(repoRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
    assert.equal(scripts.start, `GLIBC_TUNABLES=\${GLIBC_TUNABLES:-${mallocTunables}} NODE_OPTIONS=\${NODE_OPTIONS:-${nodeOptions}} node ${nodeFlags.join(' ')} bin/damselfly.js start`)
  })
})
