import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { UpstreamStatusError, UpstreamUnreachableError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import { exchange, serveExchange } from './exchange.js'
import type { P2PHost } from './host.js'
import type { LocalTasks } from './local-tasks.js'
import type { FetchRequest, FetchResponse } from './messages.js'
import { readMessage, writeMessage } from './wire.js'
import type { WireDialect } from './wire-versions.js'

const frameBuffer = 8 * 1024 * 1024

/** Seeds: take a fetch request, start (or join) the origin download, answer with metadata. */
export function handleFetch (tasks: LocalTasks, log: Logger, dialect: WireDialect) {
  return async (stream: Stream, connection: Connection): Promise<void> => {
    await serveExchange(stream, frameBuffer, 60_000, log, async (bytes, signal) => {
      const request = await readMessage(bytes, dialect, 'fetchRequest', signal)
      let response: FetchResponse
      try {
        if (tasks.fetchForPeer === undefined) throw new Error('this node is not a seed')
        response = { ok: true, meta: await tasks.fetchForPeer(request, signal) }
      } catch (error) {
        log.debug('fetch for peer failed', { peer: connection.remotePeer.toString(), error })
        // Every version bounds `message` to 4096 characters: a longer one would be refused.
        const message = (error instanceof Error ? error.message : String(error)).slice(0, 4096)
        response = error instanceof UpstreamStatusError
          ? { ok: false, reason: 'origin-status', status: error.status, message }
          : error instanceof UpstreamUnreachableError
            ? { ok: false, reason: 'origin-unreachable', message }
            : { ok: false, reason: 'error', message }
      }
      await writeMessage(bytes, dialect, 'fetchResponse', response, signal)
    })
  }
}

export async function requestFetch (host: P2PHost, seed: PeerId, dialects: readonly WireDialect[], request: FetchRequest, signal: AbortSignal): Promise<FetchResponse> {
  return await exchange(host, seed, 'fetch', dialects, frameBuffer, signal, async (bytes, dialect) => {
    await writeMessage(bytes, dialect, 'fetchRequest', request, signal)
    return await readMessage(bytes, dialect, 'fetchResponse', signal)
  })
}
