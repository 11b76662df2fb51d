import '../polyfill.js'
import { DamselflyError } from '../errors.js'
import { packageVersion } from '../version.js'

const usage = `Usage: damselfly <command> [options]

Commands:
  start        run a node: the download proxy on 127.0.0.1:65001, the admin port, the swarm
  get          download a Hub file or repo (hf://owner/repo[/path]) or a URL through the local
               node, starting one for the command if none runs; \`damselfly get --help\`
  status       show a running node's peers, tasks and traffic as a table
               (damselfly status [--admin HOST:PORT | --data-dir DIR] [--json])
  keygen       write a private network key (damselfly keygen -o swarm.key); give it to every
               node with --psk-file so that nodes without it cannot join. \`damselfly keygen
               admin-token -o FILE\` writes a token for --admin-token-file
  ca init      write the node's CA for HTTPS interception (--intercept-host) and print how
               clients trust it
  preheat      warm the swarm with a Hub repo ahead of time (damselfly preheat hf://owner/repo):
               the seeds fetch its files; progress and a summary
  help         show this text; \`damselfly start --help\` lists every option

Run \`damselfly start\` and send downloads through http://127.0.0.1:65001.
`

/** Commands load on demand: `get` with a node running needs no libp2p, `ca` no x509 code. */
async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
      return await (await import('./start.js')).runStart(rest)
    case 'get':
      return await (await import('./get.js')).runGet(rest)
    case 'keygen':
      return await (await import('./keygen.js')).runKeygen(rest)
    case 'ca':
      return await (await import('./ca.js')).runCa(rest)
    case 'preheat':
      return await (await import('./preheat.js')).runPreheat(rest)
    case 'status':
      return await (await import('./status.js')).runStatus(rest)
    case '--version':
    case '-v':
    case 'version':
      process.stdout.write(`${packageVersion}\n`)
      return 0
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage)
      return 0
    default:
      process.stderr.write(`damselfly: unknown command "${command}"\n\n${usage}`)
      return 2
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, (error: unknown) => {
  const message = error instanceof DamselflyError ? `${error.message}` : (error instanceof Error ? error.stack ?? error.message : String(error))
  process.stderr.write(`damselfly: ${message}\n`)
  process.exitCode = error instanceof DamselflyError && error.code === 'ERR_CONFIG' ? 2 : 1
})
