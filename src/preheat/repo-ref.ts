/** A Hub repository at a revision, as `hf://[datasets/|spaces/]owner/repo[@rev]` names it. */
export interface RepoRef {
  type: 'model' | 'dataset' | 'space'
  /** `owner/name` */
  id: string
  /** A branch, tag or commit; `main` when left out. */
  revision: string
}

const typePrefixes = { datasets: 'dataset', spaces: 'space' } as const
const repoId = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/

/** Parses `hf://…`; throws a plain Error with the reason, which callers turn into their own. */
export function parseRepoRef (text: string): RepoRef {
  if (!text.startsWith('hf://')) throw new Error(`expected hf://[datasets/|spaces/]owner/repo[@revision], got "${text}"`)
  let rest = text.slice('hf://'.length)
  let type: RepoRef['type'] = 'model'
  for (const [prefix, prefixType] of Object.entries(typePrefixes)) {
    if (rest.startsWith(`${prefix}/`)) {
      type = prefixType
      rest = rest.slice(prefix.length + 1)
    }
  }
  const at = rest.indexOf('@')
  const id = at === -1 ? rest : rest.slice(0, at)
  const revision = at === -1 ? 'main' : rest.slice(at + 1)
  if (!repoId.test(id)) throw new Error(`expected owner/repo after hf://, got "${id}"`)
  if (revision === '' || /[\s?#]/.test(revision)) throw new Error(`expected a revision after @, got "${revision}"`)
  return { type, id, revision }
}

/** The path prefix of the repo's type in Hub URLs: '' for models, `datasets/` and `spaces/`. */
export function urlPrefix (type: RepoRef['type']): string {
  return type === 'model' ? '' : `${type}s/`
}

export function formatRepoRef (ref: RepoRef): string {
  return `hf://${urlPrefix(ref.type)}${ref.id}${ref.revision === 'main' ? '' : `@${ref.revision}`}`
}
