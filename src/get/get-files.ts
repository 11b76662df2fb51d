import { stat } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { ConfigError, DownloadError } from '../errors.js'
import { HfCacheRepo, normalizeEtag } from './hf-cache.js'
import { failureOf, type NodeClient, type NodeResponse } from './node-client.js'
import type { FileOutcome, Progress } from './progress.js'
import { listRepo, selectFiles, type RepoFile } from './repo-listing.js'
import { saveResponse, type Expected } from './save-file.js'
import { describeRepo, resolvePath, type GetTarget, type HubTarget, type UrlTarget } from './target.js'

export interface GetComponents {
  client: NodeClient
  progress: Progress
}

export interface GetInit {
  target: GetTarget
  /** `--revision`; a revision in the target (`@rev`) wins. @default 'main' */
  revision?: string
  /** `-O`: a file for one file, a folder for several. */
  output?: string
  /** `--hf-cache`: the Hugging Face cache folder to write into instead of `output`. */
  hfCacheDir?: string
  /** `--include` / `--exclude` applied to repo paths. */
  filter: (path: string) => boolean
  /** Files downloaded at once. */
  jobs: number
  cwd: string
}

export interface FileFailure {
  label: string
  error: DownloadError
}

export interface GetResult {
  /** Where the files are: the file, the folder, or the cache snapshot. */
  where: string
  failures: FileFailure[]
}

/** One file to fetch and where it goes. */
interface FileJob {
  /** How errors name the file: the whole target. */
  label: string
  /** How the progress bar names it: its path in the repo. */
  name: string
  fetch: (signal: AbortSignal) => Promise<NodeResponse>
  /** Saves a 200 response, counting bytes as they land; returns the bytes written. */
  save: (response: NodeResponse, onBytes: (count: number) => void, signal: AbortSignal) => Promise<number>
  /** When the file is already where it should be: its size. */
  present?: () => Promise<number | undefined>
  size?: number
}

/**
 * `damselfly get`'s work: what the target names (listing a repo through the node), then each
 * file through the node, `jobs` at a time. A file that fails is reported and the others go on;
 * a target that names nothing fetchable throws.
 */
export async function getFiles (components: GetComponents, init: GetInit, signal: AbortSignal): Promise<GetResult> {
  const { where, jobs } = init.target.kind === 'hub'
    ? await planHub(components.client, init.target, init, signal)
    : await planUrl(components.client, init.target, init)
  components.progress.plan(jobs.length, jobs.reduce((sum, job) => sum + (job.size ?? 0), 0))
  const failures: FileFailure[] = []
  const queue = [...jobs.entries()]
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const [index, job] = next
      const failure = await runJob(components.progress, String(index), job, signal)
      if (failure !== undefined) {
        failures.push(failure)
        components.progress.message(`damselfly get: ${failure.error.message}`)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(init.jobs, jobs.length)) }, worker))
  if (signal.aborted) throw signal.reason
  return { where, failures }
}

async function runJob (progress: Progress, id: string, job: FileJob, signal: AbortSignal): Promise<FileFailure | undefined> {
  let outcome: FileOutcome = 'failed'
  let size = 0
  progress.start(id, job.name, job.size)
  try {
    const present = await job.present?.()
    if (present !== undefined) {
      outcome = 'cached'
      size = present
      return undefined
    }
    const response = await job.fetch(signal)
    if (response.status !== 200) throw await failureOf(job.label, response)
    const length = Number(response.headers['content-length'] ?? NaN)
    if (job.size === undefined && Number.isSafeInteger(length)) progress.resize(id, length)
    size = await job.save(response, (count) => { progress.advance(id, count) }, signal)
    outcome = 'downloaded'
    return undefined
  } catch (error) {
    if (signal.aborted) return undefined
    return { label: job.label, error: asDownloadError(job.label, error) }
  } finally {
    progress.finish(id, outcome, size)
  }
}

interface Plan {
  where: string
  jobs: FileJob[]
}

/** What one repo file needs to become a job, whichever way it is stored. */
interface HubFile {
  file: RepoFile
  label: string
  fetch: FileJob['fetch']
}

async function planHub (client: NodeClient, target: HubTarget, init: GetInit, signal: AbortSignal): Promise<Plan> {
  const revision = target.revision ?? init.revision ?? 'main'
  const listing = await listRepo(client, target, revision, signal)
  const selected = selectFiles(target, listing)
  const files = selected.single ? selected.files : selected.files.filter(file => init.filter(file.path))
  if (files.length === 0) {
    throw new DownloadError(`no file of ${describeRepo(target)}${target.path === '' ? '' : `/${target.path}`} at ${revision} matches --include/--exclude`)
  }
  const { commit } = listing
  const hubFiles = files.map((file): HubFile => ({
    file,
    label: `${describeRepo(target)}/${file.path}`,
    fetch: async (signal) => await client.getHubPath(resolvePath(target, commit, file.path), signal)
  }))
  if (init.hfCacheDir === undefined) return await planFolder(hubFiles, target, selected.single, init)
  const cache = new HfCacheRepo(init.hfCacheDir, target.repoType, target.repoId)
  await cache.writeRef(revision, commit)
  return {
    where: selected.single ? cache.snapshotPath(commit, files[0]?.path ?? '') : cache.snapshotDir(commit),
    jobs: hubFiles.map(hubFile => cacheJob(hubFile, cache, commit))
  }
}

/** `-O`: one file where the user said, several under a folder with the repo's layout. */
async function planFolder (hubFiles: HubFile[], target: HubTarget, single: boolean, init: GetInit): Promise<Plan> {
  const base = resolve(init.cwd, init.output ?? target.repoId.split('/')[1] ?? 'repo')
  // A repo file always has a name.
  const singleDestination = single ? await fileDestination(init.cwd, init.output, basename(hubFiles[0]?.file.path ?? 'file')) : undefined
  const jobs = hubFiles.map(({ file, label, fetch }): FileJob => ({
    label,
    name: file.path,
    ...(file.size !== undefined ? { size: file.size } : {}),
    fetch,
    save: async (response, onBytes, signal) => {
      const destination = singleDestination ?? join(base, ...checkedPath(label, file.path).split('/'))
      return (await saveResponse(response, { label, destination, expected: expectedOf(file, response), onBytes }, signal)).size
    }
  }))
  return { where: singleDestination ?? base, jobs }
}

/** `--hf-cache`: the blob named by the Hub's ETag, linked from the commit's snapshot. */
function cacheJob ({ file, label, fetch }: HubFile, cache: HfCacheRepo, commit: string): FileJob {
  const listedEtag = file.sha256 ?? file.blobId
  return {
    label,
    name: file.path,
    ...(file.size !== undefined ? { size: file.size } : {}),
    fetch,
    // As huggingface_hub does: a blob already there is linked, not fetched again.
    present: async () => {
      if (listedEtag === undefined || !(await cache.hasBlob(listedEtag, file.size))) return undefined
      await cache.link(commit, checkedPath(label, file.path), listedEtag)
      return file.size ?? 0
    },
    save: async (response, onBytes, signal) => {
      const etag = normalizeEtag(response.headers['x-linked-etag'] ?? response.headers.etag) ?? listedEtag
      if (etag === undefined) throw new DownloadError(`${label}: the Hub sent no ETag to name the cache blob by`)
      const answeredCommit = response.headers['x-repo-commit']
      if (answeredCommit !== undefined && answeredCommit !== commit) {
        throw new DownloadError(`${label}: the Hub answered for commit ${answeredCommit}, not ${commit}`)
      }
      const path = checkedPath(label, file.path)
      const saved = await saveResponse(response, { label, destination: cache.blobPath(etag), expected: expectedOf(file, response), onBytes }, signal)
      await cache.link(commit, path, etag)
      return saved.size
    }
  }
}

async function planUrl (client: NodeClient, target: UrlTarget, init: GetInit): Promise<Plan> {
  const label = target.url.href.replace(/\?.*$/, '')
  const name = fileNameOf(target.url)
  const destination = await fileDestination(init.cwd, init.output, name)
  if (destination === undefined) throw new ConfigError(`cannot name a file after ${label}: give -O with a file name`)
  return {
    where: destination,
    jobs: [{
      label,
      name: basename(destination),
      fetch: async (signal) => await client.getUrl(target.url, signal),
      save: async (response, onBytes, signal) => (await saveResponse(response, { label, destination, expected: {}, onBytes }, signal)).size
    }]
  }
}

/** The URL's last path segment, decoded, as a plain file name (a %2F cannot make it a path). */
function fileNameOf (url: URL): string {
  const last = url.pathname.split('/').pop() ?? ''
  let name: string
  try {
    name = decodeURIComponent(last)
  } catch {
    name = last
  }
  return name.replace(/[/\\\0]/g, '_')
}

/**
 * `-O` for one file: a folder (existing, or written with a trailing slash) gets the file's
 * name; undefined when the file's name is needed and there is none.
 */
async function fileDestination (cwd: string, output: string | undefined, name: string): Promise<string | undefined> {
  const named = name !== '' && name !== '.' && name !== '..'
  if (output === undefined) return named ? resolve(cwd, name) : undefined
  const isFolder = output.endsWith('/') || (await stat(resolve(cwd, output)).catch(() => undefined))?.isDirectory() === true
  if (!isFolder) return resolve(cwd, output)
  return named ? resolve(cwd, output, name) : undefined
}

/** What the Hub says about the bytes: size from the listing, sha256 for LFS, git blob id otherwise. */
function expectedOf (file: RepoFile, response: NodeResponse): Expected {
  const linked = normalizeEtag(response.headers['x-linked-etag'])
  const sha256 = file.sha256 ?? (linked !== undefined && /^[0-9a-f]{64}$/.test(linked) ? linked : undefined)
  return {
    ...(file.size !== undefined ? { size: file.size } : {}),
    ...(sha256 !== undefined ? { sha256 } : {}),
    ...(sha256 === undefined && file.blobId !== undefined ? { gitSha1: file.blobId } : {})
  }
}

/** A repo path that stays inside the output folder: no empty, `.` or `..` segments, no backslashes. */
function checkedPath (label: string, path: string): string {
  if (path.startsWith('/') || path.includes('\\') || path.split('/').some(segment => segment === '' || segment === '.' || segment === '..')) {
    throw new DownloadError(`${label}: refusing a path that would leave the output folder`)
  }
  return path
}

function asDownloadError (label: string, error: unknown): DownloadError {
  if (error instanceof DownloadError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new DownloadError(`${label}: ${message}`, { cause: error })
}
