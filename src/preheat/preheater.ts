import { randomBytes } from 'node:crypto'
import { Agent, type Dispatcher } from 'undici'
import { DamselflyError, PreheatError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import type { HeaderRecord } from '../origin/http-headers.js'
import { resolveHubFile } from '../hub/resolve-file.js'
import { matchesAny } from './glob.js'
import { listRepo, type RepoFile } from './hub-listing.js'
import { formatRepoRef, urlPrefix, type RepoRef } from './repo-ref.js'
import { warmTask, type WarmSwarm, type WarmTasks } from './warm-task.js'

export interface PreheatRequest {
  repo: RepoRef
  /** fnmatch patterns; none means every file. */
  include: string[]
  /** Sent to the Hub for the listing and the resolves (a token for a private repo); never to peers. */
  headers: HeaderRecord
}

export type PreheatFileState = 'pending' | 'warming' | 'done' | 'failed' | 'skipped'

export interface PreheatFileStatus {
  path: string
  size: number
  state: PreheatFileState
  warmedBytes: number
  /** Peer ids that hold the file once done. */
  seeds: string[]
  /** Why a file failed, or was skipped (a file kept in git: the Hub serves it, nothing to cache). */
  reason?: string
}

/** What `GET /api/preheat/<id>` answers; the CLI draws its progress and summary from it. */
export interface PreheatStatus {
  id: string
  repo: string
  /** The commit the revision named, once listed. */
  commit?: string
  state: 'listing' | 'warming' | 'done' | 'failed'
  startedAt: string
  finishedAt?: string
  seconds: number
  /** Bytes of the files to warm (LFS files that matched), and how many of them the seeds hold. */
  totalBytes: number
  warmedBytes: number
  seeds: string[]
  files: PreheatFileStatus[]
  error?: string
}

export interface PreheaterComponents {
  swarm: WarmSwarm
  tasks: WarmTasks
  logger: Logger
}

export interface PreheaterInit {
  /** The Hub (the node's `registry`). */
  registry: string
  connectTimeoutMs: number
  /** Files warmed at once. @default 2 */
  concurrency?: number
  /** Finished jobs kept for their status. @default 32 */
  keepJobs?: number
}

interface Job {
  status: PreheatStatus
  started: number
}

/**
 * Warms the swarm with a whole repo ahead of time: lists its files on the Hub, resolves each
 * LFS file to its task (the same question the mirror path asks, hub-resolve.ts) and has the
 * elected seeds fetch it (warm-task.ts). Jobs run in the background; their status is polled.
 */
export class Preheater {
  private readonly components: PreheaterComponents
  private readonly init: PreheaterInit
  private readonly log: Logger
  private readonly dispatcher: Dispatcher
  private readonly jobs = new Map<string, Job>()
  private readonly lifetime = new AbortController()

  constructor (components: PreheaterComponents, init: PreheaterInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('preheat')
    this.dispatcher = new Agent({ connect: { timeout: init.connectTimeoutMs } })
  }

  /** Starts a job and returns its id at once. */
  start (request: PreheatRequest): PreheatStatus {
    const id = randomBytes(8).toString('hex')
    const job: Job = {
      started: Date.now(),
      status: { id, repo: formatRepoRef(request.repo), state: 'listing', startedAt: new Date().toISOString(), seconds: 0, totalBytes: 0, warmedBytes: 0, seeds: [], files: [] }
    }
    this.jobs.set(id, job)
    this.forgetOldJobs()
    this.log.info('preheat started', { id, repo: job.status.repo, include: request.include })
    void this.run(job, request).catch((error: unknown) => {
      job.status.state = 'failed'
      job.status.error = describe(error)
    }).finally(() => {
      job.status.finishedAt = new Date().toISOString()
      job.status.seconds = (Date.now() - job.started) / 1000
      this.log.info('preheat finished', { id, state: job.status.state, files: job.status.files.length, bytes: job.status.warmedBytes, seconds: job.status.seconds, error: job.status.error })
    })
    return this.snapshot(job)
  }

  status (id: string): PreheatStatus | undefined {
    const job = this.jobs.get(id)
    return job === undefined ? undefined : this.snapshot(job)
  }

  async stop (): Promise<void> {
    this.lifetime.abort()
    await this.dispatcher.destroy()
  }

  private async run (job: Job, request: PreheatRequest): Promise<void> {
    const signal = this.lifetime.signal
    const { repo } = request
    const listing = await listRepo(this.init.registry, repo, request.headers, this.dispatcher, signal)
    job.status.commit = listing.commit
    job.status.files = listing.files
      .filter(file => matchesAny(file.path, request.include))
      .map(file => file.lfsSha256 === undefined
        ? { path: file.path, size: file.size, state: 'skipped', warmedBytes: 0, seeds: [], reason: 'kept in git, served by the Hub itself' }
        : { path: file.path, size: file.size, state: 'pending', warmedBytes: 0, seeds: [] })
    const wanted = listing.files.filter(file => file.lfsSha256 !== undefined && matchesAny(file.path, request.include))
    job.status.totalBytes = wanted.reduce((sum, file) => sum + file.size, 0)
    job.status.state = 'warming'
    const queue = [...wanted]
    const worker = async (): Promise<void> => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        await this.warmFile(job, request, listing.commit, file, signal)
      }
    }
    await Promise.all(Array.from({ length: this.init.concurrency ?? 2 }, worker))
    job.status.seeds = [...new Set(job.status.files.flatMap(file => file.seeds))]
    job.status.state = job.status.files.some(file => file.state === 'failed') ? 'failed' : 'done'
  }

  private async warmFile (job: Job, request: PreheatRequest, commit: string, file: RepoFile, signal: AbortSignal): Promise<void> {
    const status = job.status.files.find(entry => entry.path === file.path)
    if (status === undefined) return
    status.state = 'warming'
    try {
      const path = file.path.split('/').map(encodeURIComponent).join('/')
      const target = new URL(`${this.init.registry}/${urlPrefix(request.repo.type)}${request.repo.id}/resolve/${commit}/${path}`)
      const resolution = await resolveHubFile(target, request.headers, this.dispatcher, signal)
      if (resolution.kind !== 'lfs') {
        resolution.upstream.body.resume()
        throw new PreheatError(`the Hub answered ${resolution.upstream.statusCode} instead of a redirect to its CDN`)
      }
      status.seeds = await warmTask(this.components, {
        key: resolution.key,
        url: resolution.location,
        onProgress: (bytes) => {
          job.status.warmedBytes += bytes - status.warmedBytes
          status.warmedBytes = bytes
        }
      }, signal)
      status.state = 'done'
    } catch (error) {
      status.state = 'failed'
      status.reason = describe(error)
      this.log.warn('preheat of a file failed', { id: job.status.id, path: file.path, error: status.reason })
    }
  }

  private snapshot (job: Job): PreheatStatus {
    const seconds = job.status.finishedAt === undefined ? (Date.now() - job.started) / 1000 : job.status.seconds
    return structuredClone({ ...job.status, seconds })
  }

  private forgetOldJobs (): void {
    const keep = this.init.keepJobs ?? 32
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= keep) return
      if (job.status.finishedAt !== undefined) this.jobs.delete(id)
    }
  }
}

function describe (error: unknown): string {
  if (error instanceof DamselflyError) return error.message
  return error instanceof Error ? error.message : String(error)
}
