import type { Dispatcher } from 'undici'
import { UpstreamStatusError, UpstreamUnreachableError, redactUrl } from '../errors.js'
import type { HeaderRecord } from '../origin/http-headers.js'
import type { RepoRef } from './repo-ref.js'

export interface RepoFile {
  path: string
  size: number
  /** The LFS oid (sha256 of the bytes) for files the Hub serves from its CDN. */
  lfsSha256?: string
}

export interface RepoListing {
  /** The commit the revision pointed to: every file is resolved at it, so the set is consistent. */
  commit: string
  files: RepoFile[]
}

interface RevisionAnswer {
  sha?: unknown
  siblings?: Array<{ rfilename?: unknown, size?: unknown, lfs?: { sha256?: unknown, size?: unknown } }>
}

/**
 * The files of a repo at a revision, from the Hub's revision API with `blobs=true` (sizes and
 * LFS oids in one answer, and the commit the revision names).
 */
export async function listRepo (registry: string, ref: RepoRef, headers: HeaderRecord, dispatcher: Dispatcher, signal: AbortSignal): Promise<RepoListing> {
  const url = new URL(`${registry}/api/${ref.type}s/${ref.id}/revision/${encodeURIComponent(ref.revision)}?blobs=true`)
  let response: Dispatcher.ResponseData
  try {
    response = await dispatcher.request({ origin: url.origin, path: url.pathname + url.search, method: 'GET', headers: { ...headers, accept: 'application/json' }, signal })
  } catch (error) {
    if (signal.aborted) throw error
    throw new UpstreamUnreachableError(`cannot reach ${redactUrl(url.href)}: ${(error as Error).message}`, { cause: error })
  }
  if (response.statusCode !== 200) {
    const body = Buffer.from(await response.body.arrayBuffer()).subarray(0, 64 * 1024)
    throw new UpstreamStatusError(response.statusCode, response.headers as Record<string, string | string[]>, body, url.href)
  }
  const answer = await response.body.json() as RevisionAnswer
  if (typeof answer.sha !== 'string' || !Array.isArray(answer.siblings)) {
    throw new UpstreamStatusError(502, {}, Buffer.from('the Hub answered without sha or siblings'), url.href)
  }
  const files: RepoFile[] = []
  for (const sibling of answer.siblings) {
    if (typeof sibling.rfilename !== 'string') continue
    const size = typeof sibling.size === 'number' ? sibling.size : typeof sibling.lfs?.size === 'number' ? sibling.lfs.size : 0
    const oid = typeof sibling.lfs?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(sibling.lfs.sha256) ? sibling.lfs.sha256 : undefined
    files.push(oid === undefined ? { path: sibling.rfilename, size } : { path: sibling.rfilename, size, lfsSha256: oid })
  }
  return { commit: answer.sha, files }
}
