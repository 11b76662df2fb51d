import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ProxyResult } from '../../metrics/metrics.js'

/** What a request has become so far; counted once when it ends. */
export interface Outcome {
  result?: ProxyResult
}

/** One admitted request on its way through a route: where it goes and how it may be cancelled. */
export interface RouteRequest {
  request: IncomingMessage
  response: ServerResponse
  /** The upstream URL (`resolve-target`). */
  target: URL
  /** Aborts when the client goes away or the node stops. */
  signal: AbortSignal
  outcome: Outcome
}
