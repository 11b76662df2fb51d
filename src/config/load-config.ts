/**
 * Reads the configuration from its three sources — the YAML file, DAMSELFLY_* environment
 * variables and command-line flags, each overriding the one before, a list replacing the list
 * below it — and checks the merged values against the one schema. Every problem is reported in
 * a single ConfigError, each named the way the user wrote it: a flag, a variable, a file key.
 */
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import type { z } from 'zod'
import { ConfigError } from '../errors.js'
import { optionFor, options } from './options.js'
import type { OptionSpec } from './options.js'
import { createConfigSchema, describeValue, expandHome } from './schema.js'
import type { DamselflyConfig } from './schema.js'

export interface LoadConfigInit {
  /** Flags only, after the subcommand; the caller has already handled `--help`. */
  argv: string[]
  env: Record<string, string | undefined>
  /** Base of relative paths; `process.cwd()` by default. */
  cwd?: string
}

type Source = { kind: 'flag' } | { kind: 'env' } | { kind: 'file', label: string }

/** Values of one source by option, as the source gave them. */
type Values = Map<OptionSpec, unknown>

interface ConfigFile {
  /** The path as the user gave it, which is how messages name the file. */
  label: string
  path: string
  content: Record<string, unknown>
}

const configOption = optionFor('configFile')

export async function loadConfig (init: LoadConfigInit): Promise<DamselflyConfig> {
  const cwd = init.cwd ?? process.cwd()
  const homeDir = homedir()
  const problems: string[] = []

  const flags = readFlags(init.argv)
  const env = readEnv(init.env)
  const file = await readConfigFile(flags, env, cwd, homeDir, problems)

  const input: Record<string, unknown> = file?.content ?? {}
  const sources = new Map<string, Source>()
  if (file !== undefined) {
    for (const option of options) {
      if (option.inFile && valueAt(input, option.key) !== undefined) sources.set(option.key, { kind: 'file', label: file.label })
    }
    resolveFilePaths(input, file.path)
  }
  for (const [values, source] of [[env, { kind: 'env' }], [flags, { kind: 'flag' }]] as const) {
    for (const [option, value] of values) {
      if (option.inFile && setValueAt(input, option.key, value)) sources.set(option.key, source)
    }
  }

  const result = createConfigSchema({ cwd, homeDir }).safeParse(input, { reportInput: true })
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...describeIssue(issue, sources, file?.label))
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(formatProblems(problems))
  return file === undefined ? result.data : { configFile: file.path, ...result.data }
}

function readFlags (argv: string[]): Values {
  const flagOptions: NonNullable<ParseArgsConfig['options']> = {}
  for (const option of options) {
    // Booleans take a value too (`--back-to-source false`): Node 20's parseArgs has no --no-x form.
    flagOptions[option.flag] = { type: 'string', multiple: option.kind === 'list' }
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: argv, options: flagOptions, strict: true, allowPositionals: false })
  } catch (error) {
    throw new ConfigError(formatProblems([describeFlagError(error)]), { cause: error })
  }
  const values: Values = new Map()
  for (const option of options) {
    const value = parsed.values[option.flag]
    if (value !== undefined) values.set(option, value)
  }
  return values
}

function describeFlagError (error: unknown): string {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(message)?.[1]
    if (flag !== undefined) return `unknown flag ${flag}`
  }
  return message
}

/** Lists are separated by whitespace; an empty variable counts as unset. */
function readEnv (env: Record<string, string | undefined>): Values {
  const values: Values = new Map()
  for (const option of options) {
    const text = env[option.env]?.trim()
    if (text === undefined || text === '') continue
    values.set(option, option.kind === 'list' ? text.split(/\s+/) : text)
  }
  return values
}

async function readConfigFile (flags: Values, env: Values, cwd: string, homeDir: string, problems: string[]): Promise<ConfigFile | undefined> {
  const fromFlag = flags.get(configOption)
  const given = fromFlag ?? env.get(configOption)
  if (typeof given !== 'string') return undefined
  const origin = fromFlag !== undefined ? `--${configOption.flag}` : configOption.env
  if (given === '') {
    problems.push(`${origin}: expected a file path, got ""`)
    return undefined
  }
  const path = resolve(cwd, expandHome(given, homeDir))
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    problems.push(`${origin}: cannot read ${describeValue(given)}: ${describeReadError(error)}`)
    return undefined
  }

  // The YAML parser (~0.27 MB bundled) loads only when there is a file to read (issue 12).
  const { parseDocument } = await import('yaml')
  const document = parseDocument(text)
  if (document.errors.length > 0) {
    for (const error of document.errors) problems.push(`${given}: ${firstLine(error.message)}`)
    return undefined
  }
  let content: unknown
  try {
    content = document.toJS()
  } catch (error) {
    problems.push(`${given}: ${error instanceof Error ? firstLine(error.message) : String(error)}`)
    return undefined
  }
  if (content === null || content === undefined) return { label: given, path, content: {} }
  if (!isMapping(content)) {
    problems.push(`${given}: expected a mapping of options at the top level, got ${describeValue(content)}`)
    return undefined
  }
  return { label: given, path, content }
}

function describeReadError (error: unknown): string {
  const code = (error as { code?: unknown }).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EISDIR') return 'it is a directory'
  if (code === 'EACCES') return 'permission denied'
  return error instanceof Error ? error.message : String(error)
}

/** A relative data dir in the file is relative to the file, as in most tools' config files. */
function resolveFilePaths (content: Record<string, unknown>, filePath: string): void {
  const dataDir = content.dataDir
  if (typeof dataDir === 'string' && dataDir !== '' && !dataDir.startsWith('~') && !isAbsolute(dataDir)) {
    content.dataDir = resolve(dirname(filePath), dataDir)
  }
}

function describeIssue (issue: z.core.$ZodIssue, sources: Map<string, Source>, fileLabel = 'config'): string[] {
  const path = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol')
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(path)
    return issue.keys.map(key => `${fileLabel}: unknown key ${describeValue(formatPath([...path, key]))}` +
      (known.length > 0 ? ` (known keys${path.length > 0 ? ` in ${formatPath(path)}` : ''}: ${known.join(', ')})` : ''))
  }
  const option = optionAt(path)
  const source = option === undefined ? undefined : sources.get(option.key)
  const inList = option !== undefined && path.length > option.key.split('.').length
  const value = inList && issue.input !== undefined ? ` ${describeValue(issue.input)}` : ''
  if (option !== undefined && source?.kind === 'flag') return [`--${option.flag}${value}: ${issue.message}`]
  if (option !== undefined && source?.kind === 'env') return [`${option.env}${value}: ${issue.message}`]
  const where = path.length > 0 ? `${fileLabel}: ${formatPath(path)}` : fileLabel
  return [`${where}${value}: ${issue.message}`]
}

/** The option a schema path falls in: its own key, or an element of its list. */
function optionAt (path: ReadonlyArray<string | number>): OptionSpec | undefined {
  return options.find(option => {
    const segments = option.key.split('.')
    return option.inFile && segments.length <= path.length && segments.every((segment, index) => path[index] === segment)
  })
}

function knownKeysAt (path: ReadonlyArray<string | number>): string[] {
  const keys = new Set<string>()
  for (const option of options) {
    const segments = option.key.split('.')
    if (!option.inFile || segments.length <= path.length) continue
    if (path.every((segment, index) => segments[index] === segment)) keys.add(segments[path.length] ?? '')
  }
  return [...keys]
}

function formatPath (path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((text, segment) =>
    typeof segment === 'number' ? `${text}[${segment}]` : text === '' ? segment : `${text}.${segment}`, '')
}

function valueAt (content: Record<string, unknown>, key: string): unknown {
  let value: unknown = content
  for (const segment of key.split('.')) {
    if (!isMapping(value)) return undefined
    value = value[segment]
  }
  return value
}

/**
 * Puts a value at a dotted key, creating sections as needed. Where the file has something
 * other than a section on the way, nothing is set: the schema reports the file's value.
 */
function setValueAt (content: Record<string, unknown>, key: string, value: unknown): boolean {
  const segments = key.split('.')
  const last = segments.pop()
  if (last === undefined) return false
  let section = content
  for (const segment of segments) {
    const next = section[segment] ?? {}
    if (!isMapping(next)) return false
    section[segment] = next
    section = next
  }
  section[last] = value
  return true
}

function isMapping (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function firstLine (text: string): string {
  return (text.split('\n')[0] ?? text).replace(/:$/, '')
}

function formatProblems (problems: string[]): string {
  return problems.length === 1
    ? `invalid configuration: ${problems[0] ?? ''}`
    : `invalid configuration (${problems.length} problems):\n  ${problems.join('\n  ')}`
}
