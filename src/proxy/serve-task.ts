import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { AbortedError, StorageError } from '../errors.js'
import type { Metrics } from '../metrics/metrics.js'
import { Bitmap } from '../storage/bitmap.js'
import type { Task } from '../task/task.js'
import { resolveRange, type ByteRange, type RangeSpec } from './range.js'

export interface ServeTaskInit {
  task: Task
  range?: RangeSpec
  /** The task was complete when the request came. */
  hit: boolean
  /** Headers added to the answer (a mirror's Hub headers: X-Repo-Commit, X-Linked-Etag…). */
  extraHeaders?: Record<string, string>
  signal: AbortSignal
  metrics?: Pick<Metrics, 'bytes' | 'sentToClient'>
}

/** Bytes read from disk per write to the client. */
const readChunkBytes = 1024 * 1024

/**
 * Sends a task's bytes (or one range of them) as they land on disk: a hit streams straight
 * from the file; a download in progress is followed piece by piece, never ahead of the data.
 */
export async function serveTask (response: ServerResponse, init: ServeTaskInit): Promise<void> {
  const { task, metrics } = init
  // Bytes from pieces held when the answer began are the cache's ("local"); later pieces were
  // counted as they landed, by their source.
  const heldAtStart = init.hit ? undefined : Bitmap.fromBase64(task.plan.pieceCount, task.bitmap.toBase64())
  const sent = (offset: number, bytes: number): void => {
    metrics?.sentToClient(bytes)
    if (heldAtStart === undefined || heldAtStart.has(task.plan.indexOf(offset))) metrics?.bytes('local', bytes)
  }
  const range: ByteRange | undefined = init.range === undefined ? undefined : resolveRange(init.range, task.length)
  const start = range?.start ?? 0
  const end = range?.end ?? task.length - 1
  const headers: Record<string, string | number> = {
    'content-type': task.headers['content-type'] ?? 'application/octet-stream',
    'content-length': end - start + 1,
    'accept-ranges': 'bytes',
    'x-dragonfly-task-id': task.id
  }
  for (const name of ['etag', 'last-modified', 'content-disposition']) {
    const value = task.headers[name]
    if (value !== undefined) headers[name] = value
  }
  Object.assign(headers, init.extraHeaders)
  if (init.hit) headers['x-dragonfly-task-download-finished'] = 'true'
  if (range !== undefined) headers['content-range'] = `bytes ${start}-${end}/${task.length}`
  response.writeHead(range === undefined ? 200 : 206, headers)
  if (end < start) {
    response.end()
    return
  }
  if (task.status === 'complete') {
    const file = createReadStream(task.dataPath, { start, end, highWaterMark: readChunkBytes })
    let position = start
    // A chunk is counted by the piece of its first byte: exact for hits, and close enough
    // for a task that completed between the request and the answer.
    file.on('data', (chunk) => {
      sent(position, chunk.length)
      position += chunk.length
    })
    await pipeline(file, response, { signal: init.signal })
    return
  }
  await followDownload(response, task, start, end, init.signal, sent)
}

async function followDownload (response: ServerResponse, task: Task, start: number, end: number, signal: AbortSignal, sent: (offset: number, bytes: number) => void): Promise<void> {
  const file = await open(task.dataPath, 'r').catch((error: unknown) => {
    throw new StorageError(`cannot read task ${task.id}`, { cause: error })
  })
  try {
    let position = start
    while (position <= end) {
      const readable = task.readableAt(position)
      if (readable === 0) {
        task.want(position)
        await task.changed(signal)
        continue
      }
      const length = Math.min(readable, end - position + 1, readChunkBytes)
      const buffer = Buffer.allocUnsafe(length)
      const { bytesRead } = await file.read(buffer, 0, length, position)
      if (bytesRead !== length) throw new StorageError(`task ${task.id} data ended at ${position + bytesRead}`)
      sent(position, length)
      position += length
      if (position > end) {
        response.end(buffer)
        break
      }
      if (!response.write(buffer)) await drained(response, signal)
    }
  } finally {
    await file.close()
  }
}

async function drained (response: ServerResponse, signal: AbortSignal): Promise<void> {
  try {
    await once(response, 'drain', { signal })
  } catch {
    throw new AbortedError('client went away')
  }
}
