import { mkdir, rm, stat, symlink, writeFile, readFile, rename } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import type { RepoType } from './target.js'

/**
 * The Hugging Face cache, laid out exactly as huggingface_hub lays it out, so that a later
 * `hf_hub_download` / `from_pretrained` / `snapshot_download` finds the files, also offline:
 *
 *   <cache>/models--owner--name/blobs/<etag>                     the bytes, named by ETag
 *   <cache>/models--owner--name/snapshots/<commit>/<path>        relative symlink to the blob
 *   <cache>/models--owner--name/refs/<revision>                  the commit (no newline)
 */
export class HfCacheRepo {
  readonly folder: string

  constructor (cacheDir: string, repoType: RepoType, repoId: string) {
    this.folder = join(cacheDir, repoFolderName(repoType, repoId))
  }

  blobPath (etag: string): string {
    return join(this.folder, 'blobs', etag)
  }

  snapshotDir (commit: string): string {
    return join(this.folder, 'snapshots', commit)
  }

  snapshotPath (commit: string, path: string): string {
    return join(this.snapshotDir(commit), ...path.split('/'))
  }

  /** True when the blob is there with the expected size (huggingface_hub checks existence only). */
  async hasBlob (etag: string, size?: number): Promise<boolean> {
    const info = await stat(this.blobPath(etag)).catch(() => undefined)
    return info !== undefined && info.isFile() && (size === undefined || info.size === size)
  }

  /** Points `snapshots/<commit>/<path>` at the blob with a relative symlink, replacing what was there. */
  async link (commit: string, path: string, etag: string): Promise<string> {
    const pointer = this.snapshotPath(commit, path)
    await mkdir(dirname(pointer), { recursive: true })
    await rm(pointer, { force: true })
    await symlink(relative(dirname(pointer), this.blobPath(etag)), pointer)
    return pointer
  }

  /** Records which commit a branch or tag names; a commit sha needs no ref (as in huggingface_hub). */
  async writeRef (revision: string, commit: string): Promise<void> {
    if (revision === commit) return
    const path = join(this.folder, 'refs', ...revision.split('/'))
    if (await readFile(path, 'utf8').catch(() => undefined) === commit) return
    await mkdir(dirname(path), { recursive: true })
    await writeFile(`${path}.tmp`, commit)
    await rename(`${path}.tmp`, path)
  }
}

/** `models--owner--name`, `datasets--owner--name`, `spaces--owner--name`. */
export function repoFolderName (repoType: RepoType, repoId: string): string {
  return [`${repoType}s`, ...repoId.split('/')].join('--')
}

/**
 * Where huggingface_hub keeps its cache: HF_HUB_CACHE, else HF_HOME/hub, else
 * XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 */
export function hfCacheDir (env: Record<string, string | undefined>): string {
  const given = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE)
  if (given !== undefined) return expandHome(given)
  const hfHome = nonEmpty(env.HF_HOME) ?? join(nonEmpty(env.XDG_CACHE_HOME) ?? join(homedir(), '.cache'), 'huggingface')
  return join(expandHome(hfHome), 'hub')
}

/** The Hub's ETag or X-Linked-Etag as huggingface_hub names blobs by it: no W/, no quotes. */
export function normalizeEtag (value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const etag = value.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1')
  return /^[\w-][\w.-]*$/.test(etag) ? etag : undefined
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

function expandHome (path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path
}
