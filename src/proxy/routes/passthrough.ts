import type { ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import { linkedOid } from '../../hub/resolve-file.js'
import { upstreamRequestHeaders } from '../../origin/http-headers.js'
import type { TaskManager } from '../../task/task-manager.js'
import { lfsTaskKey } from '../../task/task-key.js'
import { hasCredentials } from '../access-check.js'
import { relay, requestUpstream } from '../upstream.js'
import type { RouteRequest } from './route.js'

/** Relays an answer its own way and says so (true), or leaves it to the plain relay (false). */
export type AnswerHandler = (upstream: Dispatcher.ResponseData, response: ServerResponse, signal: AbortSignal) => Promise<boolean>

export interface PassthroughComponents {
  dispatcher: Dispatcher
  tasks: Pick<TaskManager, 'notePrivate'>
}

/**
 * Requests the swarm has no business with (HEAD, POST, API calls, unmatched GETs) go to the
 * origin as they are, both bodies streamed; redirects go back to the client to follow.
 */
export class PassthroughRoute {
  private readonly components: PassthroughComponents

  constructor (components: PassthroughComponents) {
    this.components = components
  }

  /** `answer` may relay the origin's answer its own way; `headers` replace the client's. */
  async serve ({ request, response, target, signal, outcome }: RouteRequest, options: { answer?: AnswerHandler, headers?: Record<string, string> } = {}): Promise<void> {
    outcome.result = 'passthrough'
    const hasBody = request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined
    const headers = { ...upstreamRequestHeaders(request.headers), ...options.headers, host: target.host }
    const upstream = await requestUpstream(target, {
      method: (request.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body: hasBody ? request : null
    }, this.components.dispatcher, signal)
    this.notePrivateResolve(request.headers, upstream)
    if (await options.answer?.(upstream, response, signal) === true) return
    await relay(upstream, response, signal)
  }

  /**
   * A Hub answer relayed to a client that sent credentials, naming an LFS file (a resolve's
   * redirect or HEAD): the file may be private, so its task is guarded like one fetched with
   * the token, although the client will fetch the signed CDN URL without it.
   */
  private notePrivateResolve (requestHeaders: Record<string, string | string[] | undefined>, upstream: Dispatcher.ResponseData): void {
    if (!hasCredentials(requestHeaders)) return
    const oid = linkedOid(upstream.headers)
    if (oid !== undefined) this.components.tasks.notePrivate(lfsTaskKey(oid).id)
  }
}
