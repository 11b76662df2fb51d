import type { Socket } from 'node:net'
import { AbortedError, DataConnectionError } from '../../errors.js'

/** Waits for `socket` to drain its write buffer; fails when it closes or `signal` aborts. */
export async function drained (socket: Socket, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new AbortedError()
  if (socket.destroyed) throw new DataConnectionError('the data connection closed')
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error): void => {
      socket.off('drain', onDrain)
      socket.off('close', onClose)
      signal.removeEventListener('abort', onAbort)
      if (error === undefined) resolve()
      else reject(error)
    }
    const onDrain = (): void => { done() }
    const onClose = (): void => { done(new DataConnectionError('the data connection closed')) }
    const onAbort = (): void => { done(new AbortedError()) }
    socket.on('drain', onDrain)
    socket.on('close', onClose)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
