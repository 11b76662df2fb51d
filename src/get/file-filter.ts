import picomatch from 'picomatch'

export interface FileFilterInit {
  /** Keep only paths matching one of these; empty = keep all. */
  include: readonly string[]
  /** Then drop paths matching one of these. */
  exclude: readonly string[]
}

/**
 * `--include` / `--exclude`, with the semantics of `hf download` (huggingface_hub's fnmatch):
 * `*` also crosses `/`, so `*.json` matches `tokenizer/vocab.json`, and a pattern ending in `/`
 * means everything under that folder. Dot files match like any other.
 */
export function createFileFilter (init: FileFilterInit): (path: string) => boolean {
  const compile = (patterns: readonly string[]): ((path: string) => boolean) | undefined => patterns.length === 0
    ? undefined
    // bash: a single star is a globstar, as fnmatch's star is.
    : picomatch(patterns.map(pattern => pattern.endsWith('/') ? `${pattern}*` : pattern), { dot: true, bash: true })
  const included = compile(init.include)
  const excluded = compile(init.exclude)
  return (path) => (included === undefined || included(path)) && (excluded === undefined || !excluded(path))
}
