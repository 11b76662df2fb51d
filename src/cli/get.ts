import type { Writable } from 'node:stream'
import { loadConfig, options as nodeOptions } from '../config/index.js'
import { ConfigError, DamselflyError, NodeUnavailableError } from '../errors.js'
import { createLogger } from '../logging/logger.js'
import { createFileFilter } from '../get/file-filter.js'
import { getFiles } from '../get/get-files.js'
import { hfCacheDir } from '../get/hf-cache.js'
import { findHubToken } from '../get/hub-token.js'
import { findOrStartNode } from '../get/local-node.js'
import { NodeClient } from '../get/node-client.js'
import { Progress } from '../get/progress.js'
import { parseTarget } from '../get/target.js'

export const getUsage = `Usage: damselfly get TARGET [options] [node options]

Downloads through the local Damselfly node: Hub files in mirror mode, any other URL with the
node as an HTTP proxy. When no node answers at --node, one is started in this process for the
length of the command, configured as \`damselfly start\` would be with the node options given
(--registry, --data-dir, --bootstrap, …: see \`damselfly start --help\`).

Targets:
  hf://owner/repo                  every file of a model repo
  hf://owner/repo/path             one file, or every file under a folder
  hf://datasets/owner/repo[/path]  a dataset (hf://spaces/… for a space)
  hf://owner/repo@REV/path         at a revision (percent-encode slashes: @refs%2Fpr%2F1)
  http(s)://host/path              any URL, through the node as a proxy (like curl --proxy)

Options:
  -O, --output PATH   one file: the file to write (into it, if PATH is a folder or ends in /);
                      several: the folder to put them in, with the repo's layout.
                      Default: the file's name, or a folder named after the repo, here
  --revision REV      branch, tag or commit (default: main); every file comes from the one
                      commit the revision points to when the command starts
  --include GLOB      only repo paths matching GLOB; repeatable. As in \`hf download\`, * also
                      matches /, so '*.json' takes every JSON file in every folder
  --exclude GLOB      skip repo paths matching GLOB; repeatable
  --hf-cache          write into the Hugging Face cache as huggingface_hub does ($HF_HUB_CACHE,
                      else $HF_HOME/hub, else ~/.cache/huggingface/hub): a later
                      from_pretrained / hf_hub_download finds the files, also offline
  --token TOKEN       the Hub token (default: $HF_TOKEN, else the file \`hf auth login\` wrote)
  --node URL          the node's proxy (default: $DAMSELFLY_NODE, else http://127.0.0.1:65001)
  -j, --jobs N        files downloaded at once (default: 4)
  -q, --quiet         no progress and no summary: errors only
  -h, --help          show this text

Standard output gets the path of what was downloaded: the file, the folder, or the snapshot
folder in the cache. Standard error gets a progress bar per file and one overall when it is a
terminal, else one summary line. A file is written under a temporary name and renamed only once
its length, and its sha256 (LFS files) or git blob id (others) when the Hub lists them, check out.

Exit status:
  0    every file was downloaded and checked
  1    a download failed (each failure is printed with the file, the HTTP status, the node's
       X-Dragonfly-Error-Type and the Hub's error), or the target names no file
  2    usage or configuration error
  3    no node answers at --node and none could be started here (its ports are taken, …)
  130  interrupted
`

export interface GetIo {
  stdout: Writable
  stderr: Writable & { isTTY?: boolean, columns?: number }
  env: Record<string, string | undefined>
  cwd: string
}

interface GetArgs {
  target?: string
  output?: string
  revision?: string
  include: string[]
  exclude: string[]
  hfCache: boolean
  token?: string
  node?: string
  jobs: number
  quiet: boolean
  help: boolean
  /** Flags for a node started here, passed to the configuration loader as they were given. */
  nodeArgs: string[]
}

const defaultNode = 'http://127.0.0.1:65001'

/** `damselfly get`: see getUsage for the exit statuses. */
export async function runGet (argv: string[], io: GetIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }): Promise<number> {
  const say = (line: string): void => { io.stderr.write(`damselfly get: ${line}\n`) }
  let args: GetArgs
  try {
    args = parseArgs(argv)
  } catch (error) {
    say(`${(error as Error).message}\n`)
    io.stderr.write(getUsage)
    return 2
  }
  if (args.help) {
    io.stdout.write(getUsage)
    return 0
  }

  const onUnhandled = (reason: unknown): void => { say(`node: unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}`) }
  const lifetime = new AbortController()
  const onSignal = (): void => { lifetime.abort(new DamselflyError('ERR_ABORTED', 'interrupted')) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let progress: Progress | undefined
  let stopNode = async (): Promise<void> => {}
  let client: NodeClient | undefined
  try {
    const target = parseTarget(args.target ?? '')
    checkCombination(args, target.kind, target.kind === 'hub' ? target.revision : undefined)
    const config = await loadConfig({ argv: args.nodeArgs, env: io.env, cwd: io.cwd })
    const levelGiven = args.nodeArgs.some(arg => arg.startsWith('--log-level')) || (io.env.DAMSELFLY_LOG_LEVEL ?? '') !== ''
    const logger = createLogger({ ...config.log, level: levelGiven ? config.log.level : 'warn' })
    const nodeUrl = checkNodeUrl(args.node ?? nonEmpty(io.env.DAMSELFLY_NODE) ?? defaultNode)
    const node = await findOrStartNode({ url: nodeUrl, config, logger }, lifetime.signal)
    stopNode = node.stop
    // As `damselfly start` does: a node must not take the command down over one forgotten
    // promise (a peer's stream reset); it is logged and the download goes on.
    if (node.started) process.on('unhandledRejection', onUnhandled)
    if (!args.quiet) {
      say(node.started
        ? `no node answers at ${nodeUrl}: started one in this process (proxy ${node.url}, data dir ${config.dataDir}); it stops when the command ends`
        : `downloading through the node at ${node.url}`)
    }
    if (!node.started && args.nodeArgs.length > 0 && !args.quiet) {
      say(`node options (${args.nodeArgs.filter(arg => arg.startsWith('--')).join(' ')}) are ignored: they configure a node started here, and one already runs`)
    }
    const token = args.token ?? await findHubToken(io.env)
    client = new NodeClient({ nodeUrl: node.url, ...(token !== undefined && target.kind === 'hub' ? { token } : {}) })
    progress = new Progress({
      write: (text) => { io.stderr.write(text) },
      live: io.stderr.isTTY === true && !args.quiet,
      quiet: args.quiet,
      columns: () => (io.stderr.columns ?? 0) > 0 ? io.stderr.columns ?? 80 : 80
    })
    const result = await getFiles({ client, progress }, {
      target,
      ...(args.revision !== undefined ? { revision: args.revision } : {}),
      ...(args.output !== undefined ? { output: args.output } : {}),
      ...(args.hfCache ? { hfCacheDir: hfCacheDir(io.env) } : {}),
      filter: createFileFilter({ include: args.include, exclude: args.exclude }),
      jobs: args.jobs,
      cwd: io.cwd
    }, lifetime.signal)
    progress.close(result.where)
    if (result.failures.length > 0) return 1
    io.stdout.write(`${result.where}\n`)
    return 0
  } catch (error) {
    // The error below is the summary.
    progress?.stop()
    if (lifetime.signal.aborted) {
      say('interrupted')
      return 130
    }
    say(error instanceof Error ? error.message : String(error))
    if (error instanceof ConfigError) return 2
    if (error instanceof NodeUnavailableError) return 3
    if (error instanceof DamselflyError) return 1
    throw error
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await client?.close()
    await stopNode()
    process.off('unhandledRejection', onUnhandled)
  }
}

function parseArgs (argv: string[]): GetArgs {
  const args: GetArgs = { include: [], exclude: [], hfCache: false, jobs: 4, quiet: false, help: false, nodeArgs: [] }
  const nodeFlags = new Set(nodeOptions.map(option => `--${option.flag}`))
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string
    const equals = arg.startsWith('--') ? arg.indexOf('=') : -1
    const name = equals === -1 ? arg : arg.slice(0, equals)
    const value = (): string => {
      const given = equals === -1 ? argv[++index] : arg.slice(equals + 1)
      if (given === undefined || given === '') throw new ConfigError(`${name} needs a value`)
      return given
    }
    switch (name) {
      case '-h': case '--help': args.help = true; break
      case '-q': case '--quiet': args.quiet = true; break
      case '--hf-cache': args.hfCache = true; break
      case '-O': case '--output': args.output = value(); break
      case '--revision': args.revision = value(); break
      case '--include': args.include.push(value()); break
      case '--exclude': args.exclude.push(value()); break
      case '--token': args.token = value(); break
      case '--node': args.node = value(); break
      case '-j': case '--jobs': {
        const jobs = Number(value())
        if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new ConfigError(`${name} must be a whole number from 1 to 64`)
        args.jobs = jobs
        break
      }
      default:
        if (nodeFlags.has(name)) {
          args.nodeArgs.push(name, value())
        } else if (arg.startsWith('-') && arg !== '-') {
          throw new ConfigError(`unknown option ${name}`)
        } else if (args.target === undefined) {
          args.target = arg
        } else {
          throw new ConfigError(`one target at a time: got ${args.target} and ${arg}`)
        }
    }
  }
  if (args.target === undefined && !args.help) throw new ConfigError('no target: give an hf:// target or a URL')
  return args
}

function checkCombination (args: GetArgs, kind: 'hub' | 'url', targetRevision: string | undefined): void {
  if (kind === 'url' && (args.hfCache || args.revision !== undefined || args.include.length > 0 || args.exclude.length > 0)) {
    throw new ConfigError('--hf-cache, --revision, --include and --exclude apply to hf:// targets only')
  }
  if (args.hfCache && args.output !== undefined) throw new ConfigError('--hf-cache and -O exclude each other: the cache decides where files go')
  if (targetRevision !== undefined && args.revision !== undefined && targetRevision !== args.revision) {
    throw new ConfigError(`two revisions: @${targetRevision} in the target and --revision ${args.revision}`)
  }
}

function checkNodeUrl (text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ConfigError(`--node ${text}: not a URL (expected http://HOST:PORT)`)
  }
  if (url.protocol !== 'http:' || url.pathname !== '/' || url.search !== '') throw new ConfigError(`--node ${text}: expected http://HOST:PORT`)
  return url.origin
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
