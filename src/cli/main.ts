import '../polyfill.js'
import { DamselflyError } from '../errors.js'
import { runKeygen } from './keygen.js'
import { runStart } from './start.js'
import { runStatus } from './status.js'
import { packageVersion } from '../version.js'

const usage = `Usage: damselfly <command> [options]

Commands:
  start        run a node: the download proxy on 127.0.0.1:65001, the admin port, the swarm
  status       show a running node's peers, tasks and traffic as a table
               (damselfly status [--admin HOST:PORT | --data-dir DIR] [--json])
  keygen       write a private network key (damselfly keygen -o swarm.key); give it to every
               node with --psk-file so that nodes without it cannot join
  help         show this text; \`damselfly start --help\` lists every option

Run \`damselfly start\` and send downloads through http://127.0.0.1:65001.
`

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
      return await runStart(rest)
    case 'keygen':
      return await runKeygen(rest)
    case 'status':
      return await runStatus(rest)
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
