import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { UpstreamStatusError, UpstreamUnreachableError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { LocalTasks } from './local-tasks.js'
import { fetchRequest, fetchResponse, type FetchRequest, type FetchResponse } from './messages.js'
import type { P2PHost } from './host.js'
import { protocols } from './protocols.js'
import { readFrame, wire, writeFrame } from './wire.js'

const frameBuffer = 8 * 1024 * 1024

/** Seeds: take a fetch request, start (or join) the origin download, answer with metadata. */
export function handleFetch (tasks: LocalTasks, log: Logger) {
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(60_000)
    try {
      const bytes = wire(stream, frameBuffer)
      const request = await readFrame(bytes, fetchRequest, signal)
      let response: FetchResponse
      try {
        if (tasks.fetchForPeer === undefined) throw new Error('this node is not a seed')
        response = { ok: true, meta: await tasks.fetchForPeer(request, signal) }
      } catch (error) {
        log.debug('fetch for peer failed', { peer: connection.remotePeer.toString(), error })
        response = error instanceof UpstreamStatusError
          ? { ok: false, reason: 'origin-status', status: error.status, message: error.message }
          : error instanceof UpstreamUnreachableError
            ? { ok: false, reason: 'origin-unreachable', message: error.message }
            : { ok: false, reason: 'error', message: error instanceof Error ? error.message : String(error) }
      }
      await writeFrame(bytes, response, signal)
      await stream.close({ signal })
    } catch (error) {
      log.debug('fetch request failed', { error })
      stream.abort(error instanceof Error ? error : new Error(String(error)))
    }
  }
}

export async function requestFetch (host: P2PHost, seed: PeerId, request: FetchRequest, signal: AbortSignal): Promise<FetchResponse> {
  const stream = await host.dialProtocol(seed, protocols.fetch, { signal })
  try {
    const bytes = wire(stream, frameBuffer)
    await writeFrame(bytes, request, signal)
    const response = await readFrame(bytes, fetchResponse, signal)
    await stream.close({ signal }).catch(() => {})
    return response
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)))
    throw error
  }
}
