import { createHash } from 'node:crypto'
import type { OriginClient, OriginSource } from '../origin/origin-client.js'
import type { Task } from '../task/task.js'

export interface AccessCheckComponents {
  origin: Pick<OriginClient, 'probe'>
}

export interface AccessCheckInit {
  /** How long an origin's yes is trusted for one credential and URL. @default 60_000 */
  ttlMs?: number
  /** Cached yeses kept at most (oldest dropped first). @default 10_000 */
  maxEntries?: number
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
}

/**
 * Private tasks (first fetched with credentials) are served to a later client only once the
 * origin accepts that client's own request: a GET of its URL with `Range: bytes=0-0` and its
 * headers. A refusal reaches the client as the origin sent it (401, 403 and body); a yes is
 * remembered briefly, keyed by a hash of the task, URL and credentials (never the credentials
 * themselves), so a client streaming many ranges costs one check a minute.
 */
export class AccessCheck {
  private readonly components: AccessCheckComponents
  private readonly ttlMs: number
  private readonly maxEntries: number
  private readonly now: () => number
  /** Key → when the yes expires; Map order is insertion order, oldest first. */
  private readonly allowed = new Map<string, number>()

  constructor (components: AccessCheckComponents, init: AccessCheckInit = {}) {
    this.components = components
    this.ttlMs = init.ttlMs ?? 60_000
    this.maxEntries = init.maxEntries ?? 10_000
    this.now = init.now ?? Date.now
  }

  /** Resolves when `source` may read `task`; rejects with the origin's refusal otherwise. */
  async check (task: Task, source: OriginSource, signal: AbortSignal): Promise<void> {
    if (!task.private) return
    const key = credentialKey(task.id, source)
    const until = this.allowed.get(key)
    if (until !== undefined && until > this.now()) return
    const probe = await this.components.origin.probe(source, signal)
    probe.wholeBody?.destroy()
    this.allowed.delete(key)
    this.allowed.set(key, this.now() + this.ttlMs)
    for (const oldest of this.allowed.keys()) {
      if (this.allowed.size <= this.maxEntries) break
      this.allowed.delete(oldest)
    }
  }
}

/** The request carries credentials of its own (a token, a session cookie). */
export function hasCredentials (headers: Record<string, string | string[] | undefined>): boolean {
  return ['authorization', 'cookie'].some(name => {
    const value = headers[name]
    return value !== undefined && value !== ''
  })
}

function credentialKey (taskId: string, source: OriginSource): string {
  return createHash('sha256')
    .update(taskId).update('\0')
    .update(source.url).update('\0')
    .update(source.headers.authorization ?? '').update('\0')
    .update(source.headers.cookie ?? '')
    .digest('hex')
}
