import type { Dispatcher } from 'undici'
import type { HeaderRecord } from './http-headers.js'

/** What the origin answered to a ranged GET sent with dispatchRange. */
export interface RangeAnswer {
  status: number
  headers: HeaderRecord
  /** The start of the body of an answer that was not a 206 (an error page, at most `errorBodyLimit` bytes). */
  body?: Buffer
}

export interface RangeDispatchInit {
  origin: string
  path: string
  headers: Record<string, string>
  /** Checks a 206's headers before any byte is taken: an error aborts the request with it. */
  accept: (headers: HeaderRecord) => Error | undefined
  /**
   * Each chunk of a 206 body, in the memory undici read it into (no stream in between). Return
   * false to pause the response until `resume` is called (TCP back-pressure reaches the origin).
   */
  onData: (chunk: Buffer) => boolean
  /** Bytes of a non-206 body kept for the error. */
  errorBodyLimit: number
  signal: AbortSignal
}

/** Resumes a paused response (see RangeDispatchInit.onData). */
export interface RangeDispatch {
  answer: Promise<RangeAnswer>
  resume: () => void
  /** Ends the request with `error` (the answer rejects with it). */
  abort: (error: Error) => void
  /** The response's status once its headers came, else 0 (an error then means no answer at all). */
  status: () => number
}

/**
 * One GET through undici's dispatch API: the body's chunks go straight to `onData` from the
 * socket's read buffers, with pause and resume for back-pressure, instead of through a
 * Readable and its async iterator (measured: that layer was a good part of the event loop's
 * time per cold byte). Resolves when the body ended; rejects with undici's error (a reset, a
 * body timeout) or the one given to abort.
 */
export function dispatchRange (dispatcher: Dispatcher, init: RangeDispatchInit): RangeDispatch {
  let controller: Dispatcher.DispatchController | undefined
  let failure: Error | undefined
  let paused = false
  let status = 0
  const abort = (error: Error): void => {
    failure ??= error
    controller?.abort(error)
  }
  const onAbort = (): void => { abort(init.signal.reason instanceof Error ? init.signal.reason : new Error('aborted')) }
  const answer = new Promise<RangeAnswer>((resolve, reject) => {
    let headers: HeaderRecord = {}
    let collecting: Buffer[] | undefined
    let collected = 0
    const finish = (error?: Error): void => {
      init.signal.removeEventListener('abort', onAbort)
      const cause = failure ?? error
      if (cause !== undefined) reject(cause)
      else resolve({ status, headers, ...(collecting === undefined ? {} : { body: Buffer.concat(collecting).subarray(0, init.errorBodyLimit) }) })
    }
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart (started) {
        controller = started
        if (failure !== undefined) started.abort(failure)
      },
      onResponseStart (started, statusCode, responseHeaders) {
        status = statusCode
        headers = responseHeaders as HeaderRecord
        if (statusCode !== 206) {
          collecting = []
          return
        }
        const refused = init.accept(headers)
        if (refused !== undefined) abort(refused)
      },
      onResponseData (started, chunk) {
        if (failure !== undefined) return
        if (collecting !== undefined) {
          if (collected < init.errorBodyLimit) collecting.push(chunk)
          collected += chunk.length
          return
        }
        if (!init.onData(chunk) && !paused && failure === undefined) {
          paused = true
          started.pause()
        }
      },
      onResponseEnd () { finish() },
      onResponseError (_controller, error) { finish(error) }
    }
    if (init.signal.aborted) {
      reject(init.signal.reason)
      return
    }
    init.signal.addEventListener('abort', onAbort, { once: true })
    try {
      dispatcher.dispatch({ origin: init.origin, path: init.path, method: 'GET', headers: init.headers }, handler)
    } catch (error) {
      finish(error as Error)
    }
  })
  return {
    answer,
    resume: () => {
      if (!paused) return
      paused = false
      controller?.resume()
    },
    abort,
    status: () => status
  }
}
