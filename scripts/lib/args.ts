/**
 * The scripts' command line: node's parseArgs, plus `--help` (every option with its default
 * and what it does; exit 0) and a one-line message for a bad option (exit 2), instead of a
 * stack trace. test/script-help.test.ts runs every script's --help so that neither can rot.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'

export interface ScriptOption {
  type: 'string' | 'boolean'
  default?: string | boolean
  description: string
  /** Placeholder for the value in --help. @default VALUE */
  valueName?: string
  /** Used between the script and its own child processes: left out of --help. */
  internal?: boolean
}

export interface ScriptSpec<O extends Record<string, ScriptOption>> {
  /** The file name without `.js`, e.g. `bench-load`. */
  name: string
  /** One or two lines: what the script does. */
  summary: string
  options: O
}

export type ScriptValues<O extends Record<string, ScriptOption>> = {
  [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean : O[K] extends { default: string } ? string : string | undefined
}

/** Exit statuses shared by the scripts. */
export const usageExitCode = 2

/** The help text of a script: usage, summary and one line per option. */
export function scriptHelp<O extends Record<string, ScriptOption>> (spec: ScriptSpec<O>): string {
  const rows = Object.entries(spec.options)
    .filter(([, option]) => option.internal !== true)
    .map(([name, option]) => {
      const flag = option.type === 'boolean' ? `--${name}` : `--${name} ${option.valueName ?? 'VALUE'}`
      const fallback = option.default === undefined || option.default === false ? '' : ` (default ${String(option.default)})`
      return [flag, `${option.description}${fallback}`] as const
    })
  rows.push(['-h, --help', 'print this text and exit'])
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2
  return [
    `Usage: node dist/scripts/${spec.name}.js [options]`,
    '',
    spec.summary,
    '',
    'Options:',
    ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`),
    ''
  ].join('\n')
}

/**
 * Parses `argv` against `spec`. `--help` prints the help and exits 0; an unknown option, a
 * missing value or a stray argument prints one line and exits 2.
 */
export function scriptArgs<const O extends Record<string, ScriptOption>> (spec: ScriptSpec<O>, argv: string[] = process.argv.slice(2)): ScriptValues<O> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(scriptHelp(spec))
    process.exit(0)
  }
  const options = Object.fromEntries(Object.entries(spec.options).map(([name, option]) =>
    [name, option.default === undefined ? { type: option.type } : { type: option.type, default: option.default }]))
  try {
    return parseArgs({ args: argv, options: options as ParseArgsConfig['options'], strict: true, allowPositionals: false }).values as ScriptValues<O>
  } catch (error) {
    // parseArgs' own wording, first sentence: "Unknown option '--x'", "Option '--size <value>' argument missing".
    const message = (error as Error).message.split('. ')[0]
    process.stderr.write(`${spec.name}: ${message}. \`node dist/scripts/${spec.name}.js --help\` lists the options.\n`)
    process.exit(usageExitCode)
  }
}
