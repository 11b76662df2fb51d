import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Logger } from '../logging/logger.js'
import type { LocalTasks } from './local-tasks.js'
import { metaRequest, metaResponse, type TaskMetadata } from './messages.js'
import type { P2PHost } from './host.js'
import { protocols } from './protocols.js'
import { readFrame, wire, writeFrame } from './wire.js'

const frameBuffer = 8 * 1024 * 1024

/** Answers "what do you know of task X": its metadata and the pieces held now. */
export function handleMeta (tasks: LocalTasks, log: Logger) {
  return async (stream: Stream, _connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(10_000)
    try {
      const bytes = wire(stream, frameBuffer)
      const request = await readFrame(bytes, metaRequest, signal)
      const meta = tasks.metadata(request.task)
      await writeFrame(bytes, meta === undefined ? { ok: false, reason: 'unknown-task' } : { ok: true, meta }, signal)
      await stream.close({ signal })
    } catch (error) {
      log.debug('meta request failed', { error })
      stream.abort(error instanceof Error ? error : new Error(String(error)))
    }
  }
}

/** Asks `peer` for a task's metadata; undefined when the peer does not hold it. */
export async function requestMeta (host: P2PHost, peer: PeerId, taskId: string, signal: AbortSignal): Promise<TaskMetadata | undefined> {
  const stream = await host.dialProtocol(peer, protocols.meta, { signal })
  try {
    const bytes = wire(stream, frameBuffer)
    await writeFrame(bytes, { task: taskId }, signal)
    const response = await readFrame(bytes, metaResponse, signal)
    await stream.close({ signal }).catch(() => {})
    if (!response.ok) return undefined
    if (response.meta.task !== taskId) return undefined
    return response.meta
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)))
    throw error
  }
}
