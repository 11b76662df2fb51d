import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { UpstreamStatusError, UpstreamUnreachableError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import { exchange, serveExchange } from './exchange.js'
import type { P2PHost } from './host.js'
import type { LocalTasks } from './local-tasks.js'
import { fetchRequest, fetchResponse, type FetchRequest, type FetchResponse } from './messages.js'
import { protocols } from './protocols.js'
import { readFrame, writeFrame } from './wire.js'

const frameBuffer = 8 * 1024 * 1024

/** Seeds: take a fetch request, start (or join) the origin download, answer with metadata. */
export function handleFetch (tasks: LocalTasks, log: Logger) {
  return async (stream: Stream, connection: Connection): Promise<void> => {
    await serveExchange(stream, frameBuffer, 60_000, log, async (bytes, signal) => {
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
    })
  }
}

export async function requestFetch (host: P2PHost, seed: PeerId, request: FetchRequest, signal: AbortSignal): Promise<FetchResponse> {
  return await exchange(host, seed, protocols.fetch, frameBuffer, signal, async (bytes) => {
    await writeFrame(bytes, request, signal)
    return await readFrame(bytes, fetchResponse, signal)
  })
}
