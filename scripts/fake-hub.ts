/**
 * Starts a fake Hugging Face Hub + CDN holding one demo repo, prints its URLs as JSON on stdout
 * and runs until SIGINT/SIGTERM. For trying clients and benchmarks by hand:
 *
 *   node dist/scripts/fake-hub.js --size 256MiB --port 8080 --cdn-port 8081 --rate 100MB/s
 *   curl -L "$(jq -r .files[0].resolveUrl)" -o /dev/null
 *
 * Options: --size (LFS file, default 256MiB), --repo (default damselfly/demo), --file
 * (default model.safetensors), --port / --cdn-port (default ephemeral), --host, --rate and
 * --rate-per-connection (e.g. 100MB/s, default uncapped), --fixture-dir, --stats-port (a third
 * server on --host: GET /stats gives the CDN counters as JSON, POST /reset zeroes them; for
 * benchmarks that run the hub in another process or network namespace).
 */
import { createServer } from 'node:http'
import { scriptArgs } from './lib/args.js'
import { parseByteRate, parseByteSize, startFakeHub } from '../test/fixtures/fake-hub/index.js'

const values = scriptArgs({
  name: 'fake-hub',
  summary: 'A fake Hugging Face Hub + CDN holding one demo repo; prints its URLs as JSON and runs until SIGINT/SIGTERM.',
  options: {
    size: { type: 'string', default: '256MiB', valueName: 'SIZE', description: 'size of the LFS file' },
    repo: { type: 'string', default: 'damselfly/demo', valueName: 'OWNER/NAME', description: 'the repo' },
    file: { type: 'string', default: 'model.safetensors', valueName: 'PATH', description: 'the LFS file\'s path in the repo' },
    port: { type: 'string', default: '0', valueName: 'PORT', description: 'the Hub\'s port (0: ephemeral)' },
    'cdn-port': { type: 'string', default: '0', valueName: 'PORT', description: 'the CDN\'s port (0: ephemeral)' },
    host: { type: 'string', default: '127.0.0.1', valueName: 'HOST', description: 'address both listen on' },
    rate: { type: 'string', valueName: 'RATE', description: 'CDN bytes per second shared by all responses, e.g. 100MB/s (default uncapped)' },
    'rate-per-connection': { type: 'string', valueName: 'RATE', description: 'CDN bytes per second per response (default uncapped)' },
    'fixture-dir': { type: 'string', valueName: 'DIR', description: 'where generated files live (default $TMPDIR/damselfly-fixtures)' },
    'stats-port': { type: 'string', valueName: 'PORT', description: 'a third server on --host: GET /stats gives the CDN counters as JSON, POST /reset zeroes them' }
  }
})

const stopping = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { stopping.abort() })
}

const hub = await startFakeHub({
  repos: [{
    id: values.repo,
    files: [
      { path: values.file, size: parseByteSize(values.size), lfs: true },
      { path: 'config.json', size: 512 }
    ]
  }],
  host: values.host,
  hubPort: Number(values.port),
  cdnPort: Number(values['cdn-port']),
  cdnBytesPerSecond: values.rate === undefined ? undefined : parseByteRate(values.rate),
  cdnBytesPerSecondPerConnection: values['rate-per-connection'] === undefined ? undefined : parseByteRate(values['rate-per-connection']),
  fixtureDir: values['fixture-dir']
}, { signal: stopping.signal }).catch((err: unknown) => {
  // Stopped while generating content: nothing to report.
  if (stopping.signal.aborted) process.exit(130)
  throw err
})

const files = [values.file, 'config.json'].map(path => {
  const info = hub.file(values.repo, path)
  return {
    path,
    size: info.size,
    sha256: info.sha256,
    lfs: info.lfs,
    resolveUrl: `${hub.hubUrl}/${values.repo}/resolve/main/${path}`,
    ...(info.lfs ? { signedUrl: hub.signedUrl(values.repo, path) } : {})
  }
})
const statsServer = values['stats-port'] === undefined
  ? undefined
  : createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/reset') hub.resetStats()
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ cdn: hub.cdn, hubRequests: hub.hubRequests }))
  })
let statsUrl: string | undefined
if (statsServer !== undefined) {
  await new Promise<void>(resolve => statsServer.listen(Number(values['stats-port']), values.host, resolve))
  const address = statsServer.address()
  if (address !== null && typeof address !== 'string') statsUrl = `http://${values.host}:${address.port}`
}
process.stdout.write(`${JSON.stringify({ hubUrl: hub.hubUrl, cdnUrl: hub.cdnUrl, ...(statsUrl !== undefined ? { statsUrl } : {}), repo: values.repo, files }, null, 2)}\n`)

if (!stopping.signal.aborted) {
  await new Promise(resolve => stopping.signal.addEventListener('abort', resolve, { once: true }))
}
statsServer?.closeAllConnections()
statsServer?.close()
await hub.close()
