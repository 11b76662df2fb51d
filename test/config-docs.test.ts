/**
 * docs/configuration.md must describe every option of the table in src/config/options.ts —
 * flag, environment variable, YAML key and default — and its sample file must load, so the
 * page cannot drift from the code.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { loadConfig, options } from '../src/config/index.js'
import type { OptionSpec } from '../src/config/index.js'

/** The nearest directory above this file with a package.json: the repository root. */
function repoRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('no package.json above the test file')
    dir = parent
  }
  return dir
}

const docs = await readFile(join(repoRoot(), 'docs', 'configuration.md'), 'utf8')

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/** `--flag` not followed by more of a flag name, so `--rule` does not match `--rules`. */
const flagPattern = (option: OptionSpec): RegExp => new RegExp(`--${escape(option.flag)}(?![a-z0-9-])`)

/** The option's own section: the `###` section that gives its flag. */
function sectionOf (option: OptionSpec): string {
  const sections = docs.split(/^### /m).slice(1).filter(section => /^- Flag: /m.test(section))
  const matching = sections.filter(section => flagPattern(option).test(section.match(/^- Flag: .*$/m)?.[0] ?? ''))
  assert.equal(matching.length, 1, `expected one section with "- Flag: --${option.flag}", found ${matching.length}`)
  return matching[0] ?? ''
}

describe('docs/configuration.md', () => {
  for (const option of options) {
    it(`documents --${option.flag}`, () => {
      const section = sectionOf(option)
      assert.match(section, flagPattern(option))
      assert.ok(section.includes(`\`${option.env}\``), `section of --${option.flag} lacks ${option.env}`)
      if (option.inFile) assert.ok(section.includes(`\`${option.key}\``), `section of --${option.flag} lacks YAML key ${option.key}`)
      const defaults = option.default === undefined ? [] : Array.isArray(option.default) ? option.default : [String(option.default)]
      for (const value of defaults) {
        // An empty default is written as `""`.
        const shown = value === '' ? '`""`' : `\`${value}\``
        assert.ok(section.includes(shown), `section of --${option.flag} lacks its default ${value}`)
      }

      const row = docs.split('\n').find(line => line.startsWith('|') && flagPattern(option).test(line))
      assert.ok(row !== undefined, `the options index has no row for --${option.flag}`)
      assert.ok(row.includes(option.env) && (!option.inFile || row.includes(`\`${option.key}\``)), `index row of --${option.flag}: ${row}`)
    })
  }

  it('names no flag or variable that does not exist', () => {
    const flags = new Set(options.map(option => option.flag))
    for (const [, flag] of docs.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)) {
      assert.ok(flag !== undefined && (flags.has(flag) || flag === 'help'), `docs name an unknown flag --${flag ?? ''}`)
    }
    const envs = new Set(options.map(option => option.env))
    for (const [env] of docs.matchAll(/DAMSELFLY_[A-Z0-9_]+/g)) {
      assert.ok(envs.has(env), `docs name an unknown variable ${env}`)
    }
  })

  it('explains how lists are given in the environment', () => {
    assert.match(docs, /whitespace/)
  })

  it('has a sample YAML file that loads', async () => {
    const sample = /```yaml\n([\s\S]*?)```/.exec(docs)?.[1]
    assert.ok(sample !== undefined, 'no ```yaml block')
    const dir = await mkdtemp(join(tmpdir(), 'damselfly-docs-'))
    try {
      const file = join(dir, 'config.yaml')
      await writeFile(file, sample)
      const config = await loadConfig({ argv: ['--config', file], env: {} })
      assert.equal(config.configFile, file)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
