import { homedir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import type { Writable } from 'node:stream'
import { readAdminTokenFile } from '../admin/admin-token-file.js'
import { hubAuthorizationHeader } from '../admin/preheat-routes.js'
import { expandHome } from '../config/schema.js'
import { ConfigError } from '../errors.js'
import type { PreheatFileStatus, PreheatStatus } from '../preheat/preheater.js'
import { parseRepoRef } from '../preheat/repo-ref.js'
import { formatBytes } from './units.js'

const usage = `Usage: damselfly preheat hf://[datasets/|spaces/]owner/repo[@revision] [options]

Warms the swarm with a repo before a job needs it: the local node lists the repo's files on the
Hub and has the seeds the swarm elects for each LFS file fetch it, so that every host then gets
it from its peers. Shows progress per file and overall, then a summary.

Options:
  --include GLOB   only files matching GLOB (fnmatch: * also crosses /); repeat for more
  --admin URL      the node's admin address (default: DAMSELFLY_ADMIN_LISTEN, else
                   http://127.0.0.1:65002)
  --admin-token-file FILE
                   the node's admin token file (default: DAMSELFLY_ADMIN_TOKEN_FILE), needed
                   when the node was started with one
  -h, --help       show this text

HF_TOKEN, when set, is sent to the Hub for listing a private repo; it never reaches a peer.
Interrupting the command leaves the preheat running on the node.
Exit status: 0 every file warmed, 1 a file or the node failed, 2 a usage error.
`

export interface PreheatIo {
  stdout: Writable & { isTTY?: boolean }
  stderr: Writable
  env: Record<string, string | undefined>
  /** @default 500 */
  pollMs?: number
}

interface PreheatArgs {
  repo: string
  include: string[]
  admin: string
  /** The token file and how messages name it (the flag or the variable). */
  tokenFile?: { path: string, source: string }
}

/** `damselfly preheat`: 0 when every file was warmed, 1 on a failure, 2 on a usage error. */
export async function runPreheat (argv: string[], io: PreheatIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(usage)
    return 0
  }
  const args = readArgs(argv, io.env)
  if (typeof args === 'string') {
    io.stderr.write(`damselfly preheat: ${args}\n\n${usage}`)
    return 2
  }
  let adminHeaders: Record<string, string> = {}
  if (args.tokenFile !== undefined) {
    try {
      adminHeaders = { authorization: `Bearer ${await readAdminTokenFile(args.tokenFile.path, args.tokenFile.source)}` }
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      io.stderr.write(`damselfly preheat: ${error.message}\n`)
      return 2
    }
  }
  const hubToken = io.env.HF_TOKEN
  let response: Response
  try {
    response = await fetch(`${args.admin}/api/preheat`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...adminHeaders,
        ...(hubToken === undefined || hubToken === '' ? {} : { [hubAuthorizationHeader]: `Bearer ${hubToken}` })
      },
      body: JSON.stringify({ repo: args.repo, include: args.include })
    })
  } catch (error) {
    io.stderr.write(`damselfly preheat: cannot reach the node at ${args.admin} (${describe(error)}); is \`damselfly start\` running there?\n`)
    return 1
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel()
    io.stderr.write(args.tokenFile === undefined
      ? `damselfly preheat: the node at ${args.admin} needs its admin token (answer ${response.status}); pass --admin-token-file FILE or set DAMSELFLY_ADMIN_TOKEN_FILE, FILE being the node's own --admin-token-file\n`
      : `damselfly preheat: the node at ${args.admin} refused the admin token from ${args.tokenFile.source} (answer ${response.status}); it is not the token in the node's --admin-token-file\n`)
    return 1
  }
  if (response.status !== 202) {
    io.stderr.write(`damselfly preheat: the node answered ${response.status}: ${await errorOf(response)}\n`)
    return response.status === 400 ? 2 : 1
  }
  const started = await response.json() as PreheatStatus
  const status = await follow(args.admin, adminHeaders, started, io)
  if (status === undefined) return 1
  io.stdout.write(summary(status))
  return status.state === 'done' ? 0 : 1
}

function readArgs (argv: string[], env: Record<string, string | undefined>): PreheatArgs | string {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: { include: { type: 'string', multiple: true }, admin: { type: 'string' }, 'admin-token-file': { type: 'string' } },
      allowPositionals: true,
      strict: true
    })
  } catch (error) {
    return describe(error)
  }
  const [repo, ...extra] = parsed.positionals
  if (repo === undefined) return 'name the repo: hf://owner/repo'
  if (extra.length > 0) return `unexpected argument "${extra[0] ?? ''}"`
  try {
    parseRepoRef(repo)
  } catch (error) {
    return describe(error)
  }
  const admin = adminUrl(parsed.values.admin ?? env.DAMSELFLY_ADMIN_LISTEN ?? '127.0.0.1:65002')
  if (admin === undefined) return `expected --admin http://HOST:PORT or HOST:PORT, got "${parsed.values.admin ?? env.DAMSELFLY_ADMIN_LISTEN ?? ''}"`
  const fromFlag = parsed.values['admin-token-file']
  const given = fromFlag ?? (env.DAMSELFLY_ADMIN_TOKEN_FILE?.trim() || undefined)
  if (given === '') return 'expected --admin-token-file FILE, got an empty path'
  const tokenFile = given === undefined
    ? undefined
    : { path: expandHome(given, homedir()), source: fromFlag !== undefined ? `--admin-token-file ${given}` : `DAMSELFLY_ADMIN_TOKEN_FILE ${given}` }
  return { repo, include: parsed.values.include ?? [], admin, ...(tokenFile === undefined ? {} : { tokenFile }) }
}

/** `HOST:PORT` or a URL; a wildcard listen address is reached through loopback. */
function adminUrl (text: string): string | undefined {
  const withScheme = /^https?:\/\//.test(text) ? text : `http://${text.startsWith(':') ? `127.0.0.1${text}` : text}`
  try {
    const url = new URL(withScheme)
    if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1'
    if (url.hostname === '[::]') url.hostname = '[::1]'
    return url.origin
  } catch {
    return undefined
  }
}

/** Polls the job until it ends, drawing progress; undefined when the node stopped answering. */
async function follow (admin: string, headers: Record<string, string>, started: PreheatStatus, io: PreheatIo): Promise<PreheatStatus | undefined> {
  const tty = io.stdout.isTTY === true
  const reported = new Set<string>()
  let status = started
  let failures = 0
  for (;;) {
    for (const file of status.files) {
      if (reported.has(file.path) || (file.state !== 'done' && file.state !== 'failed')) continue
      reported.add(file.path)
      io.stdout.write(`${tty ? '\r\x1b[K' : ''}${fileLine(file)}\n`)
    }
    if (tty) io.stdout.write(`\r\x1b[K${progressLine(status)}`)
    if (status.state === 'done' || status.state === 'failed') {
      if (tty) io.stdout.write('\r\x1b[K')
      return status
    }
    await sleep(io.pollMs ?? 500)
    try {
      const response = await fetch(`${admin}/api/preheat/${status.id}`, { headers })
      if (!response.ok) throw new Error(`status ${response.status}: ${await errorOf(response)}`)
      status = await response.json() as PreheatStatus
      failures = 0
    } catch (error) {
      if (++failures >= 10) {
        io.stderr.write(`${tty ? '\n' : ''}damselfly preheat: lost the node at ${admin} (${describe(error)}); the preheat may still be running there\n`)
        return undefined
      }
    }
  }
}

function progressLine (status: PreheatStatus): string {
  if (status.state === 'listing') return `listing ${status.repo} …`
  const toWarm = status.files.filter(file => file.state !== 'skipped')
  const finished = toWarm.filter(file => file.state === 'done' || file.state === 'failed').length
  const percent = status.totalBytes === 0 ? 100 : Math.floor(100 * status.warmedBytes / status.totalBytes)
  return `warming ${finished}/${toWarm.length} files  ${formatBytes(status.warmedBytes)} / ${formatBytes(status.totalBytes)}  ${percent}%  ${status.seconds.toFixed(0)} s`
}

function fileLine (file: PreheatFileStatus): string {
  if (file.state === 'failed') return `failed  ${file.path}: ${file.reason ?? 'unknown error'}`
  return `warmed  ${file.path}  ${formatBytes(file.size)}  on ${file.seeds.map(shortPeer).join(', ')}`
}

function summary (status: PreheatStatus): string {
  const warmed = status.files.filter(file => file.state === 'done')
  const failed = status.files.filter(file => file.state === 'failed')
  const skipped = status.files.filter(file => file.state === 'skipped')
  const commit = status.commit === undefined ? '' : ` at ${status.commit.slice(0, 12)}`
  const lines = [
    `${status.state === 'done' ? 'preheated' : 'preheat failed:'} ${status.repo}${commit}`,
    `  files:   ${warmed.length} warmed${failed.length > 0 ? `, ${failed.length} failed` : ''}${skipped.length > 0 ? `, ${skipped.length} skipped (kept in git, served by the Hub)` : ''}`,
    `  bytes:   ${formatBytes(status.warmedBytes)} of ${formatBytes(status.totalBytes)} (${status.warmedBytes} bytes)`,
    `  time:    ${status.seconds.toFixed(1)} s`,
    `  seeds:   ${status.seeds.length === 0 ? 'none' : status.seeds.join(', ')}`
  ]
  if (status.error !== undefined) lines.push(`  error:   ${status.error}`)
  return lines.join('\n') + '\n'
}

function shortPeer (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}


async function errorOf (response: Response): Promise<string> {
  const text = await response.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { error?: unknown }
    if (typeof body.error === 'string') return body.error
  } catch {}
  return text.trim().slice(0, 500)
}

function describe (error: unknown): string {
  const cause = (error as { cause?: unknown }).cause
  const message = error instanceof Error ? error.message : String(error)
  return cause instanceof Error ? `${message}: ${cause.message}` : message
}
