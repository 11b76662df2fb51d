import type { ServerResponse } from 'node:http'
import { once } from 'node:events'
import { AbortedError, BlockMismatchError, IntegrityError, StorageError } from '../errors.js'
import type { Metrics } from '../metrics/metrics.js'
import type { TaskFile, VerifiedReadInit } from '../storage/task-files.js'
import type { Task } from '../task/task.js'
import { heldBackFrom } from './hold-back.js'
import { proxyReadBudget, type ReadBudget } from './read-budget.js'
import { resolveRange, type ByteRange, type RangeSpec } from './range.js'

/** Answers at least this long send their headers before the first block is read. */
const flushHeadersFrom = 64 * 1024

/** Where a task's bytes come from: the store, through the task manager. */
export interface TaskBytes {
  /** The task's data, open for reading. */
  open: (task: Task) => Promise<TaskFile>
  /** VerifiedReadInit.verifyPiece for the task (re-verifies pieces stored without block hashes). */
  verifierOf: (task: Task) => NonNullable<VerifiedReadInit['verifyPiece']>
}

export interface ServeTaskInit {
  task: Task
  bytes: TaskBytes
  range?: RangeSpec
  /** The task was complete when the request came. */
  hit: boolean
  /** Headers added to the answer (a mirror's Hub headers: X-Repo-Commit, X-Linked-Etag…). */
  extraHeaders?: Record<string, string>
  /**
   * Drops a piece with a block that failed its sha256 on read and fetches it again; resolves
   * with the task to follow while it downloads. Without it such a piece cuts the response.
   */
  repair?: (index: number) => Promise<Task>
  /**
   * The task lost a piece after it was acquired complete (dropped as rotten by the start-up
   * migration or another reader), so no download runs for it: starts one and resolves with the
   * task to follow. Without it such a request fails with the piece's IntegrityError.
   */
  resume?: () => Promise<Task>
  signal: AbortSignal
  metrics?: Pick<Metrics, 'bytes' | 'sentToClient'>
  /** Sizes this response's read buffer. @default the process's proxyReadBudget */
  readBudget?: ReadBudget
}

/**
 * Sends a task's bytes (or one range of them) as they land on disk. A complete task is served
 * through the store's verified reader: each block is read once, hashed off the event loop,
 * checked, and that same buffer is sent. A download in progress is followed piece by piece,
 * never ahead of the data. Either way the final bytes wait for the whole-file sha256 check
 * when one is pending (hold-back.ts).
 */
export async function serveTask (response: ServerResponse, init: ServeTaskInit): Promise<void> {
  const restart = restartOnce(init.resume)
  let task = init.task
  // A task paused since it was acquired (a piece dropped as rotten) is followed, not a hit.
  const hit = init.hit && task.status === 'complete'
  const { metrics } = init
  // Bytes from pieces held when the answer began are the cache's ("local"); later pieces were
  // counted as they landed, by their source.
  const heldAtStart = hit ? undefined : task.bitmap.copy()
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
  if (hit) headers['x-dragonfly-task-download-finished'] = 'true'
  // The status waits for the first byte on disk: a download that cannot store its bytes (a full
  // disk) still gets an honest status (507) instead of a 200 cut short.
  if (end >= start && task.status !== 'complete') task = await firstByteStored(task, start, init.signal, restart)
  if (range !== undefined) headers['content-range'] = `bytes ${start}-${end}/${task.length}`
  response.writeHead(range === undefined ? 200 : 206, headers)
  // The headers leave now rather than with the first body bytes, which wait for a whole block
  // to be read and hashed (~1-3 ms for 1 MiB): the client's first byte is not held up by it. A
  // small answer keeps headers and body in one write.
  if (end - start + 1 >= flushHeadersFrom) response.flushHeaders()
  if (end < start) {
    response.end()
    return
  }
  const file = await init.bytes.open(task)
  const share = (init.readBudget ?? proxyReadBudget).take()
  try {
    // Responses in flight share a read budget (read-budget.ts): one buffer per response, reused
    // once each write has reached the kernel, for following a download; and a hit reads ahead
    // only when its share allows (a 1 MiB buffer per write took a node to 300-360 MB of RSS
    // under bench-load: docs/operations.md, "Memory").
    const bufferBytes = Math.max(1, Math.min(share.bytes, task.length, end - start + 1))
    const readAhead = share.bytes >= 1024 * 1024 ? 2 : 0
    const sender: Sender = { response, file, bytes: init.bytes, end, holdFrom: 0, signal: init.signal, sent, bufferBytes, readAhead, restart }
    // Fixed once: a repaired task must still hold back the bytes this response promised to hold.
    sender.holdFrom = heldBackFrom({ length: task.length, start, end, awaitingCheck: task.expectedSha256 !== undefined })
    let position = start
    if (task.status === 'complete') ({ position, task } = await serveStored(sender, task, position, init.repair))
    if (position <= end) await followDownload(sender, task, position)
  } finally {
    share.release()
    await file.close()
  }
}

/** Starts the download of a task left paused (ServeTaskInit.resume), at most once per answer. */
type Restart = () => Promise<Task | undefined>

function restartOnce (resume: ServeTaskInit['resume']): Restart {
  let left = resume
  return async () => {
    const once = left
    // A download that stops again fails the answer, rather than start over and over.
    left = undefined
    return await once?.()
  }
}

/** Waits for the task to hold more; returns the task to follow (another, if it was restarted). */
async function moreStored (task: Task, offset: number, signal: AbortSignal, restart: Restart): Promise<Task> {
  // A piece dropped as rotten after the task was acquired complete (the start-up migration runs
  // beside the first requests) leaves it paused: no download would ever bring the piece.
  if (task.status === 'paused') {
    const restarted = await restart()
    if (restarted !== undefined) return restarted
  }
  task.want(offset)
  await task.changed(signal)
  return task
}

async function firstByteStored (task: Task, offset: number, signal: AbortSignal, restart: Restart): Promise<Task> {
  let following = task
  while (following.readableAt(offset) === 0 && following.status !== 'complete') following = await moreStored(following, offset, signal, restart)
  return following
}

interface Sender {
  response: ServerResponse
  file: TaskFile
  bytes: TaskBytes
  /** Last byte of the response. */
  end: number
  /** Bytes from here on wait for the whole-file check. */
  holdFrom: number
  signal: AbortSignal
  /** Counts bytes sent from `offset` (metrics). */
  sent: (offset: number, bytes: number) => void
  /** Size of the read buffer for following a download (a hit never needs one). */
  bufferBytes: number
  /** That buffer, made on first use and reused once each write reached the kernel. */
  buffer?: Buffer
  /** Blocks the verified reader may read ahead of the one being sent. */
  readAhead: number
  restart: Restart
}

/**
 * A complete task through the verified reader (one read per byte). Returns where it stopped:
 * the end, or a piece that failed its check and is being refetched.
 */
async function serveStored (sender: Sender, task: Task, from: number, repair: ServeTaskInit['repair']): Promise<{ position: number, task: Task }> {
  let position = from
  try {
    // `recycle`: each write waits until it reached the kernel (write's `reused`), so the
    // reader may read into a buffer again once this loop asked for the next one.
    for await (const data of sender.file.readVerified(task.blocks, from, sender.end, { signal: sender.signal, verifyPiece: sender.bytes.verifierOf(task), readAhead: sender.readAhead, recycle: true })) {
      position = await sendBuffer(sender, task, position, data)
    }
  } catch (error) {
    if (!(error instanceof BlockMismatchError)) throw error
    if (repair === undefined) throw new IntegrityError(`piece ${error.piece} of task ${task.id} does not match its recorded sha256 on disk`)
    return { position, task: await repair(error.piece) }
  }
  return { position, task }
}

/** Sends `data` (bytes from `position`), holding back what waits for the whole-file check; returns the next position. */
async function sendBuffer (sender: Sender, task: Task, position: number, data: Buffer): Promise<number> {
  let at = position
  let rest = data
  while (rest.length > 0) {
    if (at >= sender.holdFrom) await task.whenVerified(sender.signal)
    const take = at < sender.holdFrom ? Math.min(rest.length, sender.holdFrom - at) : rest.length
    at = await write(sender, at, rest.subarray(0, take), true)
    rest = rest.subarray(take)
  }
  return at
}

async function followDownload (sender: Sender, following: Task, from: number): Promise<void> {
  let task = following
  let position = from
  while (position <= sender.end) {
    const readable = task.readableAt(position)
    if (readable === 0) {
      task = await moreStored(task, position, sender.signal, sender.restart)
      continue
    }
    position = await sendChunk(sender, task, position, Math.min(readable, sender.end - position + 1))
  }
}

/** Sends up to `available` bytes from `position` (one read); returns the next position. */
async function sendChunk (sender: Sender, task: Task, position: number, available: number): Promise<number> {
  const { file, holdFrom, signal } = sender
  if (position >= holdFrom) await task.whenVerified(signal)
  const untilHold = position < holdFrom ? holdFrom - position : Infinity
  sender.buffer ??= Buffer.allocUnsafe(sender.bufferBytes)
  const length = Math.min(available, sender.buffer.length, untilHold)
  const buffer = sender.buffer.subarray(0, length)
  const bytesRead = await file.read(buffer, position)
  if (bytesRead !== length) throw new StorageError(`task ${task.id} data ended at ${position + bytesRead}`)
  // The buffer is read into again next time: wait until this write has reached the kernel.
  return await write(sender, position, buffer, true)
}

/**
 * Writes `chunk` (ends the response with it when `last`) and waits until it reached the kernel,
 * so that its buffer can be read into again. (Waiting for 'drain' would wait as long: a chunk is
 * larger than the response's 16 KiB high-water mark; and a smaller one would not wait at all.)
 */
async function written (response: ServerResponse, chunk: Buffer, signal: AbortSignal, last = false): Promise<void> {
  if (signal.aborted) throw new AbortedError('client went away')
  let onAbort: (() => void) | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      onAbort = () => { reject(new AbortedError('client went away')) }
      signal.addEventListener('abort', onAbort, { once: true })
      const done = (error?: Error | null): void => {
        if (error === undefined || error === null) resolve()
        else reject(new AbortedError('client went away'))
      }
      // end's callback comes on 'finish': the last bytes were handed to the kernel.
      if (last) response.end(chunk, done)
      else response.write(chunk, done)
    })
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * Writes `buffer` (bytes from `position`) to the client; returns the next position. `reused`:
 * the caller fills the same buffer next, so wait until it reached the kernel, not just for drain.
 */
async function write (sender: Sender, position: number, buffer: Buffer, reused = false): Promise<number> {
  const { response, end, signal } = sender
  sender.sent(position, buffer.length)
  const next = position + buffer.length
  if (next > end) {
    if (reused) await written(response, buffer, signal, true)
    else response.end(buffer)
    return next
  }
  if (reused) await written(response, buffer, signal)
  else if (!response.write(buffer)) await drained(response, signal)
  return next
}

async function drained (response: ServerResponse, signal: AbortSignal): Promise<void> {
  try {
    await once(response, 'drain', { signal })
  } catch {
    throw new AbortedError('client went away')
  }
}
