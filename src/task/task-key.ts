import { createHash } from 'node:crypto'

export interface TaskKeyInit {
  /** Query parameters left out of URL keys; a trailing `*` makes a prefix. Case-insensitive. */
  filteredQueryParams: string[]
  /** X-Dragonfly-Tag / X-Dragonfly-Application: callers that want separate copies of a URL. */
  tag?: string
  application?: string
}

export interface TaskKey {
  /** `sha256:<oid>` when the content hash is known, else `url:<filtered url>[#tag][#app]`. */
  key: string
  /** Hex sha256 of the key: the task's folder name and X-Dragonfly-Task-ID. */
  id: string
  /** The content's sha256 when the URL names it (Hugging Face LFS and Xet bridge URLs). */
  contentSha256?: string
}

const sha256Segment = /^[0-9a-f]{64}$/
const contentAddressedHost = /^(cdn-lfs[^.]*\.hf\.co|cdn-lfs\.huggingface\.co|cas-bridge\.xethub\.hf\.co)$/

/**
 * This file is the one owner of task keys: every key is built (`taskKeyFor`, `lfsTaskKey`) and
 * read back (`parseTaskKey`, `contentSha256Of`) here, nowhere else.
 *
 * The same file reached through different signed URLs, mirrors or repos must be one task:
 * Hugging Face CDN URLs end in the LFS oid (the file's sha256), so that is the key when present.
 */
export function taskKeyFor (url: URL, init: TaskKeyInit): TaskKey {
  const contentSha256 = lfsOid(url)
  if (contentSha256 !== undefined && init.tag === undefined && init.application === undefined) {
    return lfsTaskKey(contentSha256)
  }
  let key = `url:${filteredUrl(url, init.filteredQueryParams)}`
  if (init.tag !== undefined) key += `#tag=${init.tag}`
  if (init.application !== undefined) key += `#application=${init.application}`
  return withId(key, contentSha256)
}

/** The URL without the query parameters that only sign it; kept parameters are sorted. */
export function filteredUrl (url: URL, filteredQueryParams: string[]): string {
  const matchers = filteredQueryParams.map(name => name.toLowerCase())
  const isFiltered = (name: string): boolean => {
    const lower = name.toLowerCase()
    return matchers.some(matcher => matcher.endsWith('*') ? lower.startsWith(matcher.slice(0, -1)) : lower === matcher)
  }
  const kept = [...url.searchParams.entries()].filter(([name]) => !isFiltered(name))
  kept.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
  const copy = new URL(url.href)
  copy.hash = ''
  copy.search = kept.length === 0 ? '' : '?' + new URLSearchParams(kept).toString()
  return copy.href
}

/** The task key of an LFS file named by its oid (the sha256 the Hub sends in X-Linked-Etag). */
export function lfsTaskKey (oid: string): TaskKey {
  return withId(`sha256:${oid}`, oid)
}

/** A key read back from a peer or from disk: its id, and the content sha256 it names, if any. */
export function parseTaskKey (key: string): TaskKey {
  return withId(key, contentSha256Of(key))
}

/** The sha256 of the content a `sha256:<oid>` key names; undefined for URL keys. */
export function contentSha256Of (key: string): string | undefined {
  return /^sha256:([0-9a-f]{64})$/.exec(key)?.[1]
}

function lfsOid (url: URL): string | undefined {
  const segments = url.pathname.split('/')
  const last = segments[segments.length - 1] ?? ''
  if (!sha256Segment.test(last)) return undefined
  if (contentAddressedHost.test(url.hostname) || url.pathname.includes('/repos/')) return last
  return undefined
}

function withId (key: string, contentSha256: string | undefined): TaskKey {
  const id = createHash('sha256').update(key).digest('hex')
  return contentSha256 === undefined ? { key, id } : { key, id, contentSha256 }
}
