import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Writable } from 'node:stream'
import type { StatusReport } from '../admin/status-report.js'
import { loadConfig } from '../config/index.js'
import { formatStatus } from './status-table.js'

const usage = `Usage: damselfly status [--admin HOST:PORT | --data-dir DIR] [--json]

Shows a running node's peers, tasks (size, progress, rate, bytes from the origin, peers and
cache) and traffic, read from its admin port. Without --admin the address comes from
<data-dir>/node.json, the data dir being the node's default (or --data-dir, --config,
DAMSELFLY_DATA_DIR). The same facts are on http://<admin>/status as a live page.

Options:
  --admin HOST:PORT   the node's admin address (or an http:// URL)
  --data-dir DIR      the node's data dir, to read node.json from
  --config FILE       the node's configuration file, to find its data dir
  --json              print /api/status as it is
  -h, --help          show this text
`

export interface StatusIo {
  stdout: Writable
  stderr: Writable
}

/** `damselfly status`: 0 on success, 1 when the node cannot be found or reached, 2 on a usage error. */
export async function runStatus (argv: string[], io: StatusIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let values: { admin?: string, 'data-dir'?: string, config?: string, json?: boolean, help?: boolean }
  try {
    values = parseArgs({
      args: argv,
      options: {
        admin: { type: 'string' },
        'data-dir': { type: 'string' },
        config: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (error) {
    io.stderr.write(`damselfly status: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`)
    return 2
  }
  if (values.help === true) {
    io.stdout.write(usage)
    return 0
  }
  let admin = values.admin
  if (admin === undefined) {
    const flags = [...(values['data-dir'] === undefined ? [] : ['--data-dir', values['data-dir']]), ...(values.config === undefined ? [] : ['--config', values.config])]
    const { dataDir } = await loadConfig({ argv: flags, env: process.env })
    const path = join(dataDir, 'node.json')
    try {
      admin = (JSON.parse(await readFile(path, 'utf8')) as { admin: string }).admin
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : error instanceof Error ? error.message : String(error)
      io.stderr.write(`damselfly status: cannot read ${path} (${reason}): is a node running with this data dir? Or pass --admin HOST:PORT\n`)
      return 1
    }
  }
  const base = /^https?:\/\//.test(admin) ? admin.replace(/\/+$/, '') : `http://${admin}`
  let status: StatusReport
  try {
    const response = await fetch(`${base}/api/status`, { signal: AbortSignal.timeout(10_000) })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    status = await response.json() as StatusReport
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ''
    io.stderr.write(`damselfly status: cannot reach the node's admin port at ${base}: ${error instanceof Error ? error.message : String(error)}${cause}\n`)
    return 1
  }
  io.stdout.write(values.json === true ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status))
  return 0
}
