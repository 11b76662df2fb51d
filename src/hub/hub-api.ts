/**
 * Which Hub API calls answer with documents that can steer a client to Xet, and which one asks
 * for a Xet token. Paths as huggingface_hub, @huggingface/hub and the Hub's own pages send them:
 *
 * - `GET /api/{models|datasets|spaces}` (search, `expand=xetEnabled`)
 * - `GET /api/{type}s/{repo}` and `/revision/{rev}` (repo info: `siblings`, `expand=…`, `xetEnabled`)
 * - `GET /api/{type}s/{repo}/tree/{rev}[/{path}]` (the listing `snapshot_download` caches)
 * - `POST /api/{type}s/{repo}/paths-info/{rev}`
 * - `GET /api/{type}s/{repo}/xet-read-token/{rev}` (a client already going to Xet)
 *
 * `{repo}` is `owner/name`, or a legacy name without an owner.
 */
export type HubApiCall =
  | { kind: 'listing', repo?: string }
  | { kind: 'xet-read-token', repo: string }

/**
 * Fields that make huggingface_hub (1.x) take Xet: a tree or paths-info entry with `xetHash`
 * (next to `lfs`) skips the HEAD on `resolve` and goes to the Xet CAS (`file_download.py`,
 * `_xet_file_metadata_from_tree_cache`; `_snapshot_download.py` caches the listing with it).
 * `xetEnabled` (repo info) is what clients read to choose Xet for a repo.
 */
export const xetSteeringFields: readonly string[] = ['xetHash', 'xetEnabled']

const typedApi = /^\/api\/(?:models|datasets|spaces)(?:\/(.*))?$/
const actions = new Set(['tree', 'revision', 'paths-info', 'xet-read-token'])

export function hubApiCall (method: string, pathname: string): HubApiCall | undefined {
  const match = typedApi.exec(pathname)
  if (match === null) return undefined
  const rest = match[1]
  if (rest === undefined || rest === '') return method === 'GET' ? { kind: 'listing' } : undefined
  const parts = rest.split('/')
  const at = actions.has(parts[2] ?? '') ? 2 : actions.has(parts[1] ?? '') ? 1 : -1
  if (at === -1) {
    return method === 'GET' && parts.length <= 2 && parts.every(part => part !== '') ? { kind: 'listing', repo: parts.join('/') } : undefined
  }
  const repo = parts.slice(0, at).join('/')
  const action = parts[at]
  if (action === 'paths-info') return method === 'POST' ? { kind: 'listing', repo } : undefined
  if (method !== 'GET') return undefined
  return action === 'xet-read-token' ? { kind: 'xet-read-token', repo } : { kind: 'listing', repo }
}
