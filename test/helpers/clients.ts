import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProxyAgent, request } from 'undici'
import { tool } from './system-tools.js'

/** What a user checks after a download: status, headers, size and hash of the body. */
export interface DownloadResult {
  status: number
  headers: Record<string, string>
  bytes: number
  sha256: string
  /** The body, kept only when asked (small ranges). */
  body?: Buffer
  /** The transfer broke off (curl exit code or a body error). */
  error?: string
}

export interface ClientInit {
  /** Forward proxy URL, e.g. http://127.0.0.1:65001. */
  proxy?: string
  headers?: Record<string, string>
  keepBody?: boolean
  method?: string
  /** curl only: write the body to /dev/null and skip hashing, to time the transfer alone. */
  discard?: boolean
  /** curl only: the only CAs trusted for HTTPS (`--cacert`). */
  caFile?: string
  /** curl only: follow redirects (`-L`). */
  followRedirects?: boolean
  /** curl only: go through the proxy with CONNECT (--proxytunnel), even for http URLs. */
  tunnel?: boolean
}

/** curl, exactly as a user would run it; the body is hashed as it streams. A test using it declares `skipUnless('curl')`. */
export async function curl (url: string, init: ClientInit = {}): Promise<DownloadResult> {
  const folder = await mkdtemp(join(tmpdir(), 'damselfly-curl-'))
  const headerFile = join(folder, 'headers')
  const args = ['-sS', '--dump-header', headerFile, '-o', init.discard === true ? '/dev/null' : '-']
  if (init.discard === true) args.push('-w', '%{size_download}')
  if (init.proxy !== undefined) args.push('--proxy', init.proxy)
  if (init.caFile !== undefined) args.push('--cacert', init.caFile)
  if (init.followRedirects === true) args.push('--location')
  if (init.tunnel === true) args.push('--proxytunnel')
  if (init.method === 'HEAD') args.push('--head')
  else if (init.method !== undefined) args.push('-X', init.method)
  for (const [name, value] of Object.entries(init.headers ?? {})) args.push('-H', `${name}: ${value}`)
  args.push(url)
  try {
    const child = spawn(tool('curl'), args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const hash = createHash('sha256')
    const kept: Buffer[] = []
    let bytes = 0
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      bytes += chunk.length
      if (init.keepBody === true || init.discard === true) kept.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const code = await new Promise<number>((resolve) => { child.on('close', (exitCode) => { resolve(exitCode ?? -1) }) })
    const { status, headers } = parseHeaderDump(await readFile(headerFile, 'latin1').catch(() => ''))
    const result: DownloadResult = init.discard === true
      ? { status, headers, bytes: Number(Buffer.concat(kept.length > 0 ? kept : []).toString() || 0), sha256: '' }
      : { status, headers, bytes, sha256: hash.digest('hex') }
    if (init.keepBody === true) result.body = Buffer.concat(kept)
    if (code !== 0) result.error = `curl exit ${code}: ${stderr.trim()}`
    return result
  } finally {
    await rm(folder, { recursive: true, force: true })
  }
}

/** The last response head in a curl header dump (after any 1xx / proxy heads). */
function parseHeaderDump (dump: string): { status: number, headers: Record<string, string> } {
  const blocks = dump.split(/\r?\n\r?\n/).filter(block => block.startsWith('HTTP/'))
  const last = blocks[blocks.length - 1] ?? ''
  const [statusLine = '', ...lines] = last.split(/\r?\n/)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers }
}

/** An undici client through the proxy in plain-HTTP proxy mode (no CONNECT), hashing the body. */
export async function fetchThroughProxy (url: string, init: ClientInit & { proxy: string }): Promise<DownloadResult> {
  const dispatcher = new ProxyAgent({ uri: init.proxy, proxyTunnel: false })
  try {
    const response = await request(url, { dispatcher, method: (init.method ?? 'GET') as 'GET', headers: init.headers })
    const hash = createHash('sha256')
    const kept: Buffer[] = []
    let bytes = 0
    let error: string | undefined
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        hash.update(chunk)
        bytes += chunk.length
        if (init.keepBody === true) kept.push(chunk)
      }
    } catch (cause) {
      error = (cause as Error).message
    }
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
    }
    const result: DownloadResult = { status: response.statusCode, headers, bytes, sha256: hash.digest('hex') }
    if (init.keepBody === true) result.body = Buffer.concat(kept)
    if (error !== undefined) result.error = error
    return result
  } finally {
    await dispatcher.close()
  }
}
