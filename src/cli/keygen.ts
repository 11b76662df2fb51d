import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Writable } from 'node:stream'
import { generateAdminToken } from '../admin/admin-token-file.js'
import { generatePskKey } from '../p2p/psk/key-file.js'

const usage = `Usage: damselfly keygen [psk | admin-token] [-o FILE] [--force]

psk (the default) writes a new private-network key (the go-libp2p / js-libp2p swarm.key
format). Every node of a private network needs the same key; nodes without it cannot connect.

admin-token writes a new admin token (64 hex digits) for --admin-token-file: with it, the
admin requests that change something (POST /api/preheat) need Authorization: Bearer <token>.

Options:
  -o, --output FILE   write the key to FILE (mode 0600) instead of standard output
  -f, --force         replace FILE if it exists (the default is to refuse)
  -h, --help          show this text
`

export interface KeygenIo {
  stdout: Writable
  stderr: Writable
}

type KeyKind = 'psk' | 'admin-token'

interface KeygenArgs { kind: KeyKind, output?: string, force: boolean, help: boolean }

/**
 * `damselfly keygen [psk | admin-token] [-o FILE] [--force]`: 0 on success, 1 when the file
 * cannot be written or exists, 2 on a usage error.
 */
export async function runKeygen (argv: string[], io: KeygenIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const args = parseArgs(argv)
  if (typeof args === 'string') {
    io.stderr.write(`damselfly keygen: ${args}\n\n${usage}`)
    return 2
  }
  if (args.help) {
    io.stdout.write(usage)
    return 0
  }
  const what = args.kind === 'psk' ? 'private-network key' : 'admin token'
  const keyFile = Buffer.concat([args.kind === 'psk' ? generatePskKey() : Buffer.from(generateAdminToken()), Buffer.from('\n')])
  try {
    if (args.output === undefined) {
      await write(io.stdout, keyFile)
      return 0
    }
    try {
      await (args.force ? replaceFile(args.output, keyFile) : createFile(args.output, keyFile))
    } catch (error) {
      if (isErrnoException(error) && error.code === 'EEXIST' && !args.force) {
        io.stderr.write(`damselfly keygen: ${args.output} exists; refusing to replace a ${args.kind === 'psk' ? 'key' : 'token'} (pass --force to do so)\n`)
        return 1
      }
      const reason = error instanceof Error ? error.message : String(error)
      io.stderr.write(`damselfly keygen: cannot write ${args.output}: ${reason}\n`)
      return 1
    }
    io.stderr.write(args.kind === 'psk'
      ? `wrote a new ${what} to ${args.output} (mode 0600); copy it to every node of the network\n`
      : `wrote a new ${what} to ${args.output} (mode 0600); give it to the node with --admin-token-file and to \`damselfly preheat\` likewise\n`)
    return 0
  } finally {
    keyFile.fill(0)
  }
}

function parseArgs (argv: string[]): KeygenArgs | string {
  const args: KeygenArgs = { kind: 'psk', force: false, help: false }
  let kindGiven = false
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string
    if (arg === '-h' || arg === '--help') {
      args.help = true
    } else if (arg === '-f' || arg === '--force') {
      args.force = true
    } else if (arg === '-o' || arg === '--output') {
      const value = argv[++index]
      if (value === undefined || value === '') return `${arg} needs a file name`
      args.output = value
    } else if (arg.startsWith('--output=')) {
      const value = arg.slice('--output='.length)
      if (value === '') return '--output needs a file name'
      args.output = value
    } else if ((arg === 'psk' || arg === 'admin-token') && !kindGiven) {
      args.kind = arg
      kindGiven = true
    } else {
      return arg.startsWith('-') ? `unknown option "${arg}"` : `unknown key kind "${arg}" (psk or admin-token)`
    }
  }
  return args
}

/** Creates `path` with mode 0600; fails with EEXIST when it exists. */
async function createFile (path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx', 0o600)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Writes a new 0600 file beside `path` and renames it over `path`: never a half-written key. */
async function replaceFile (path: string, bytes: Uint8Array): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  await createFile(temporary, bytes)
  try {
    await rename(temporary, path)
  } catch (error) {
    await unlink(temporary).catch(() => {})
    throw error
  }
}

async function write (stream: Writable, bytes: Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.write(bytes, (error) => { if (error == null) resolve(); else reject(error) })
  })
}

function isErrnoException (error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error
}
