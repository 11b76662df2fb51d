import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Logger } from '../logging/logger.js'
import { exchange, serveExchange } from './exchange.js'
import type { P2PHost } from './host.js'
import type { LocalTasks } from './local-tasks.js'
import type { TaskMetadata } from './messages.js'
import { readMessage, writeMessage } from './wire.js'
import type { WireDialect } from './wire-versions.js'

const frameBuffer = 8 * 1024 * 1024

/** Answers "what do you know of task X": its metadata and the pieces held now, in `dialect`. */
export function handleMeta (tasks: LocalTasks, log: Logger, dialect: WireDialect) {
  return async (stream: Stream, _connection: Connection): Promise<void> => {
    await serveExchange(stream, frameBuffer, 10_000, log, async (bytes, signal) => {
      const request = await readMessage(bytes, dialect, 'metaRequest', signal)
      const meta = tasks.metadata(request.task)
      await writeMessage(bytes, dialect, 'metaResponse', meta === undefined ? { ok: false, reason: 'unknown-task' } : { ok: true, meta }, signal)
    })
  }
}

/** Asks `peer` for a task's metadata; undefined when the peer does not hold it. */
export async function requestMeta (host: P2PHost, peer: PeerId, dialects: readonly WireDialect[], taskId: string, signal: AbortSignal): Promise<TaskMetadata | undefined> {
  return await exchange(host, peer, 'meta', dialects, frameBuffer, signal, async (bytes, dialect) => {
    await writeMessage(bytes, dialect, 'metaRequest', { task: taskId }, signal)
    const response = await readMessage(bytes, dialect, 'metaResponse', signal)
    return response.ok && response.meta.task === taskId ? response.meta : undefined
  })
}
