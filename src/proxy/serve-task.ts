import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { AbortedError, StorageError } from '../errors.js'
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
}

/** Bytes read from disk per write to the client. */
const readChunkBytes = 1024 * 1024

/**
 * Sends a task's bytes (or one range of them) as they land on disk: a hit streams straight
 * from the file; a download in progress is followed piece by piece, never ahead of the data.
 */
export async function serveTask (response: ServerResponse, init: ServeTaskInit): Promise<void> {
  const { task } = init
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
  // The status waits for the first byte on disk: a download that cannot store its bytes (a full
  // disk) still gets an honest status (507) instead of a 200 cut short.
  if (end >= start && task.status !== 'complete') await firstByteStored(task, start, init.signal)
  if (range !== undefined) headers['content-range'] = `bytes ${start}-${end}/${task.length}`
  response.writeHead(range === undefined ? 200 : 206, headers)
  if (end < start) {
    response.end()
    return
  }
  if (task.status === 'complete') {
    await pipeline(createReadStream(task.dataPath, { start, end, highWaterMark: readChunkBytes }), response, { signal: init.signal })
    return
  }
  await followDownload(response, task, start, end, init.signal)
}

async function followDownload (response: ServerResponse, task: Task, start: number, end: number, signal: AbortSignal): Promise<void> {
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

async function firstByteStored (task: Task, offset: number, signal: AbortSignal): Promise<void> {
  while (task.readableAt(offset) === 0 && task.status !== 'complete') {
    task.want(offset)
    await task.changed(signal)
  }
}

async function drained (response: ServerResponse, signal: AbortSignal): Promise<void> {
  try {
    await once(response, 'drain', { signal })
  } catch {
    throw new AbortedError('client went away')
  }
}
