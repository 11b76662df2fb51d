import { ConfigError } from '../errors.js'

export type RepoType = 'model' | 'dataset' | 'space'

/** A file or folder of a Hub repo: `hf://[datasets/|spaces/]owner/repo[@rev][/path]`. */
export interface HubTarget {
  kind: 'hub'
  repoType: RepoType
  /** `owner/name` */
  repoId: string
  /** From `@rev` in the target; `--revision` may give it instead. */
  revision?: string
  /** A file or folder in the repo, without leading or trailing slashes; '' = the whole repo. */
  path: string
  /** The target ended in `/`: `path` names a folder. */
  folder: boolean
}

/** Anything else: an http(s) URL fetched through the node as a forward proxy. */
export interface UrlTarget {
  kind: 'url'
  url: URL
}

export type GetTarget = HubTarget | UrlTarget

const typePrefixes: Record<string, RepoType> = { models: 'model', datasets: 'dataset', spaces: 'space' }
const namePart = /^[\w.-]+$/

/** Parses what the user typed; every mistake is a ConfigError naming what is wrong. */
export function parseTarget (text: string): GetTarget {
  if (/^hf:\/\//i.test(text)) return parseHubTarget(text)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ConfigError(`"${text}" is neither an hf:// target nor an http(s) URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`"${text}": only hf://, http:// and https:// targets are supported`)
  return { kind: 'url', url }
}

function parseHubTarget (text: string): HubTarget {
  const rest = text.slice('hf://'.length)
  const parts = rest.split('/')
  const repoType = typePrefixes[parts[0] ?? '']
  if (repoType !== undefined) parts.shift()
  const [owner = '', nameAndRevision = '', ...pathParts] = parts
  const at = nameAndRevision.indexOf('@')
  const name = at === -1 ? nameAndRevision : nameAndRevision.slice(0, at)
  if (!namePart.test(owner) || !namePart.test(name)) {
    throw new ConfigError(`"${text}": expected hf://[datasets/|spaces/]owner/repo[@revision][/path]`)
  }
  let revision: string | undefined
  if (at !== -1) {
    // As in huggingface_hub's HfFileSystem, a revision with slashes (refs/pr/1) is percent-encoded.
    try {
      revision = decodeURIComponent(nameAndRevision.slice(at + 1))
    } catch {
      throw new ConfigError(`"${text}": the revision after @ is not valid percent-encoding`)
    }
    if (revision === '') throw new ConfigError(`"${text}": empty revision after @`)
  }
  const folder = pathParts.length > 0 && pathParts[pathParts.length - 1] === ''
  const segments = pathParts.filter(segment => segment !== '')
  if (segments.some(segment => segment === '.' || segment === '..')) {
    throw new ConfigError(`"${text}": the path may not contain . or .. segments`)
  }
  return {
    kind: 'hub',
    repoType: repoType ?? 'model',
    repoId: `${owner}/${name}`,
    ...(revision !== undefined ? { revision } : {}),
    path: segments.join('/'),
    folder
  }
}

/** `hf://datasets/owner/name`: how messages name a repo. */
export function describeRepo (target: Pick<HubTarget, 'repoType' | 'repoId'>): string {
  return `hf://${target.repoType === 'model' ? '' : `${target.repoType}s/`}${target.repoId}`
}

/** `/datasets/owner/name/resolve/{rev}/{path}`: the Hub URL path of one file at one revision. */
export function resolvePath (target: Pick<HubTarget, 'repoType' | 'repoId'>, revision: string, path: string): string {
  const prefix = target.repoType === 'model' ? '' : `/${target.repoType}s`
  return `${prefix}/${target.repoId}/resolve/${encodeURIComponent(revision)}/${path.split('/').map(encodeURIComponent).join('/')}`
}

/** `/api/datasets/owner/name/revision/{rev}?blobs=true`: repo info with every file's size. */
export function revisionApiPath (target: Pick<HubTarget, 'repoType' | 'repoId'>, revision: string): string {
  return `/api/${target.repoType}s/${target.repoId}/revision/${encodeURIComponent(revision)}?blobs=true`
}
