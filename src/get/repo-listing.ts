import { DownloadError } from '../errors.js'
import { failureOf, type NodeClient } from './node-client.js'
import { describeRepo, revisionApiPath, type HubTarget } from './target.js'

/** One file of a repo as the Hub's revision API lists it. */
export interface RepoFile {
  path: string
  size?: number
  /** The LFS oid (the bytes' sha256) of an LFS file. */
  sha256?: string
  /** The git blob id: of the bytes for a git file, of the pointer for an LFS one. */
  blobId?: string
}

export interface RepoListing {
  /** The commit the revision points to: every file is fetched at this commit. */
  commit: string
  files: RepoFile[]
}

interface Sibling {
  rfilename?: unknown
  size?: unknown
  blobId?: unknown
  lfs?: { sha256?: unknown }
}

/**
 * Lists a repo at a revision with `/api/{type}s/{id}/revision/{rev}?blobs=true` (what
 * huggingface_hub's snapshot_download reads): one call gives the commit, so a repo is fetched
 * consistently even if the branch moves meanwhile, and every file's size for the progress bar.
 */
export async function listRepo (client: NodeClient, target: HubTarget, revision: string, signal: AbortSignal): Promise<RepoListing> {
  const what = `${describeRepo(target)} at ${revision}`
  const response = await client.getHubPath(revisionApiPath(target, revision), signal)
  if (response.status !== 200) throw await failureOf(`cannot list ${what}`, response)
  let info: { sha?: unknown, siblings?: unknown }
  try {
    info = JSON.parse(await response.body.text()) as typeof info
  } catch (error) {
    throw new DownloadError(`cannot list ${what}: the Hub's answer is not JSON`, { cause: error })
  }
  if (typeof info.sha !== 'string' || !/^[0-9a-f]{40}$/.test(info.sha) || !Array.isArray(info.siblings)) {
    throw new DownloadError(`cannot list ${what}: the Hub's answer has no commit sha or file list`)
  }
  const files: RepoFile[] = []
  for (const sibling of info.siblings as Sibling[]) {
    if (typeof sibling.rfilename !== 'string') continue
    files.push({
      path: sibling.rfilename,
      ...(typeof sibling.size === 'number' ? { size: sibling.size } : {}),
      ...(typeof sibling.lfs?.sha256 === 'string' ? { sha256: sibling.lfs.sha256 } : {}),
      ...(typeof sibling.blobId === 'string' ? { blobId: sibling.blobId } : {})
    })
  }
  return { commit: info.sha, files }
}

/**
 * The files a target names: the one file at its path, or every file under it (the whole repo
 * for an empty path). A path that names nothing is an error.
 */
export function selectFiles (target: HubTarget, listing: RepoListing): { files: RepoFile[], single: boolean } {
  if (target.path === '') return { files: listing.files, single: false }
  const exact = target.folder ? undefined : listing.files.find(file => file.path === target.path)
  if (exact !== undefined) return { files: [exact], single: true }
  const prefix = `${target.path}/`
  const under = listing.files.filter(file => file.path.startsWith(prefix))
  if (under.length === 0) {
    throw new DownloadError(`${describeRepo(target)}/${target.path}: no such file or folder at ${listing.commit.slice(0, 12)}`, { status: 404 })
  }
  return { files: under, single: false }
}
