/**
 * `--include` patterns as huggingface_hub's `allow_patterns` reads them (fnmatch): `*` matches
 * any run of characters, `/` included, `?` one character, `[abc]` / `[!abc]` one of a set.
 */
export function globToRegExp (pattern: string): RegExp {
  let source = ''
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!
    if (char === '*') {
      source += '.*'
    } else if (char === '?') {
      source += '.'
    } else if (char === '[') {
      const end = pattern.indexOf(']', index + 2)
      if (end === -1) {
        source += '\\['
        continue
      }
      let set = pattern.slice(index + 1, end)
      if (set.startsWith('!')) set = `^${set.slice(1)}`
      source += `[${set.replace(/\\/g, '\\\\')}]`
      index = end
    } else {
      source += char.replace(/[.+^${}()|\\]/g, '\\$&')
    }
  }
  return new RegExp(`^${source}$`, 's')
}

/** Whether `path` is wanted: every path when there are no patterns, else one that any matches. */
export function matchesAny (path: string, patterns: readonly string[]): boolean {
  return patterns.length === 0 || patterns.some(pattern => globToRegExp(pattern).test(path))
}
