import type { Dispatcher } from 'undici'
import { NotCacheableError } from '../../errors.js'
import type { Pace } from '../../limits/token-bucket.js'
import type { Logger } from '../../logging/logger.js'
import type { Metrics } from '../../metrics/metrics.js'
import { firstHeader, originRequestHeaders } from '../../origin/http-headers.js'
import type { Task } from '../../task/task.js'
import { taskKeyFor, type TaskKey } from '../../task/task-key.js'
import type { TaskManager } from '../../task/task-manager.js'
import { hasCredentials, type AccessCheck } from '../access-check.js'
import { parseRangeHeader, type RangeSpec } from '../range.js'
import { serveTask } from '../serve-task.js'
import { forwardGet } from '../upstream.js'
import type { RouteRequest } from './route.js'

export interface ThroughTaskComponents {
  tasks: Pick<TaskManager, 'get' | 'acquire' | 'repair' | 'open' | 'verifierOf'>
  access: Pick<AccessCheck, 'check'>
  /** For content too large to cache, streamed straight from the origin. */
  dispatcher: Dispatcher
  logger: Logger
  metrics?: Pick<Metrics, 'bytes' | 'sentToClient'>
}

export interface ThroughTaskInit {
  filteredQueryParams: string[]
  /** Paces a content streamed from the origin without caching it. @default unlimited */
  originPace?: Pace
}

/** What a caller already knows about a request it sends through a task. */
export interface KnownAboutRequest {
  key?: TaskKey
  extraHeaders?: Record<string, string>
  range?: RangeSpec
  sourceHeaders?: Record<string, string>
  /** The origin already accepted this client's credentials for this content. */
  accessChecked?: boolean
  /** The request carried credentials, even if they are not sent on to the task's source. */
  private?: boolean
}

/**
 * A GET served from a task: the cache, the swarm, or the origin through the task's download,
 * streamed as pieces land; Range and If-Range honoured; private tasks checked with the origin.
 */
export class ThroughTaskRoute {
  private readonly components: ThroughTaskComponents
  private readonly init: ThroughTaskInit
  private readonly log: Logger

  constructor (components: ThroughTaskComponents, init: ThroughTaskInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('proxy')
  }

  async serve ({ request, response, target, signal, outcome }: RouteRequest, known: KnownAboutRequest = {}): Promise<void> {
    const { tasks, access } = this.components
    const range = 'range' in known ? known.range : parseRangeHeader(firstHeader(request.headers.range))
    const key = known.key ?? taskKeyFor(target, {
      filteredQueryParams: this.init.filteredQueryParams,
      tag: firstHeader(request.headers['x-dragonfly-tag']),
      application: firstHeader(request.headers['x-dragonfly-application'])
    })
    const source = { url: target.href, headers: known.sourceHeaders ?? originRequestHeaders(request.headers) }
    const taskRequest = { key, source, private: known.private ?? hasCredentials(source.headers) }
    // A private task is checked before this client's URL can join its download, and again
    // if the task appeared meanwhile (the check is cached, so that costs nothing twice).
    const checkAccess = async (candidate: Task | undefined): Promise<void> => {
      if (candidate !== undefined && known.accessChecked !== true) await access.check(candidate, source, signal)
    }
    const before = tasks.get(key.id)
    outcome.result = before?.status === 'complete' ? 'hit' : (before?.bitmap.count ?? 0) > 0 ? 'partial' : 'miss'
    await checkAccess(before)
    let acquired
    try {
      acquired = await tasks.acquire(taskRequest, signal)
    } catch (error) {
      if (!(error instanceof NotCacheableError)) throw error
      // Larger than the cache may hold: the client still gets its bytes, straight from the origin.
      this.log.info('streaming without caching', { reason: error.message })
      const clientRange = firstHeader(request.headers.range)
      await forwardGet(target, clientRange === undefined ? source.headers : { ...source.headers, range: clientRange }, this.components.dispatcher, response, signal, this.init.originPace)
      return
    }
    const { task, hit } = acquired
    if (hit) outcome.result = 'hit'
    await checkAccess(task)
    // If-Range: a client resuming a file that has since changed must get it whole (RFC 9110 §13.1.5).
    const ifRange = firstHeader(request.headers['if-range'])
    const rangeStillValid = ifRange === undefined || ifRange === task.etag || ifRange === task.headers['last-modified']
    const release = task.retain()
    try {
      await serveTask(response, {
        task,
        bytes: tasks,
        range: rangeStillValid ? range : undefined,
        hit,
        extraHeaders: known.extraHeaders,
        repair: async (index) => await tasks.repair(taskRequest, task, index, signal),
        resume: async () => (await tasks.acquire(taskRequest, signal)).task,
        signal,
        metrics: this.components.metrics
      })
    } finally {
      release()
    }
  }
}
