import { spawn } from 'node:child_process'
import { tool } from '../../test/helpers/system-tools.js'

/** What curl itself timed: from its start to the first body byte and to the last. */
export interface CurlTiming {
  status: number
  bytes: number
  /** Seconds to the first byte (curl's time_starttransfer). */
  ttfb: number
  /** Seconds for the whole transfer (curl's time_total). */
  seconds: number
}

export interface TimedCurlInit {
  proxy?: string
  /** Runs curl through this command prefix, e.g. ['ip', 'netns', 'exec', 'ns1']. */
  prefix?: string[]
  /** Write the body here instead of /dev/null. */
  output?: string
  /** Follow redirects (a Hub resolve URL answers 302 to the CDN). */
  follow?: boolean
  signal?: AbortSignal
}

/**
 * curl with the body thrown away (or written to a file) and the times taken from curl's own
 * clock, so that neither process start-up nor hashing in this process counts.
 */
export async function timedCurl (url: string, init: TimedCurlInit = {}): Promise<CurlTiming> {
  const args = ['-sS', '-o', init.output ?? '/dev/null', '-w', '%{http_code} %{size_download} %{time_starttransfer} %{time_total}']
  if (init.proxy !== undefined) args.push('--proxy', init.proxy)
  if (init.follow === true) args.push('--location')
  args.push(url)
  const [command, ...rest] = [...(init.prefix ?? []), tool('curl'), ...args]
  init.signal?.throwIfAborted()
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
  // Killed by hand rather than through spawn's `signal`, whose AbortError event escaped here.
  const onAbort = (): void => { child.kill('SIGTERM') }
  init.signal?.addEventListener('abort', onAbort, { once: true })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', exitCode => { resolve(exitCode ?? -1) })
  }).finally(() => { init.signal?.removeEventListener('abort', onAbort) })
  if (code !== 0) throw new Error(`curl exit ${code}: ${stderr.trim()}`)
  const [status = 0, bytes = 0, ttfb = 0, seconds = 0] = stdout.trim().split(' ').map(Number)
  return { status, bytes, ttfb, seconds }
}

/** timedCurl that fails unless the answer was a 200 with `expectedBytes` bytes. */
export async function timedDownload (url: string, expectedBytes: number, init: TimedCurlInit = {}): Promise<CurlTiming> {
  const timing = await timedCurl(url, init)
  if (timing.status !== 200 || timing.bytes !== expectedBytes) {
    throw new Error(`download of ${url} failed: status ${timing.status}, ${timing.bytes} of ${expectedBytes} bytes`)
  }
  return timing
}
