/**
 * bundle — builds dist/bundle/: the command (src/cli/main.ts) and everything it imports, node_modules
 * included, as a few ES module files, which bin/damselfly.js runs. Issue 12: a node spent ~2.4
 * CPU-seconds starting, almost all of it resolving, reading and compiling ~340 module files one
 * by one; one file per command costs a fraction of that (scripts/bench-startup.ts measures it).
 *
 * Run by `npm run build` (and so by `npm install`'s `prepare`) after tsc, which type-checks and
 * still builds dist/src for the tests that import modules directly.
 *
 * - Each command's code is its own chunk (`damselfly get` with a node running loads no libp2p).
 * - The hashing thread (src/storage/hash-thread.ts) is its own entry: hash-pool.ts starts it as
 *   `new URL('./hash-thread.js', import.meta.url)`, which resolves next to the chunk that says so.
 * - src/version.ts reads `../../package.json` from its own URL: dist/bundle/ is as deep as
 *   dist/src/, so the same path reaches the package's package.json.
 * - CommonJS packages in an ES module bundle call `require` for node's modules: the banner gives
 *   each file one made with createRequire.
 * - Source maps point to src/*.ts (and node_modules); bin/damselfly.js turns them on for stack traces.
 * - compiled-inputs.json lists dist/src's files for the bundled sources: bin/damselfly.js runs
 *   dist/src instead when one of them is newer than the bundle (`npx tsc` alone after a change).
 *
 *   node dist/scripts/bundle.js [--outdir dist/bundle]
 */
import { build } from 'esbuild'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { scriptArgs } from './lib/args.js'

const values = scriptArgs({
  name: 'bundle',
  summary: 'Bundles the command and its dependencies into dist/bundle/ (esbuild; run by npm run build).',
  options: {
    outdir: { type: 'string', default: 'dist/bundle', valueName: 'DIR', description: 'where the bundle goes' }
  }
})

async function main (): Promise<void> {
  await rm(values.outdir, { recursive: true, force: true })
  const result = await build({
    entryPoints: { main: 'src/cli/main.ts', 'hash-thread': 'src/storage/hash-thread.ts' },
    outdir: values.outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    sourcesContent: false,
    banner: { js: 'import { createRequire as __damselflyCreateRequire } from \'node:module\'; const require = __damselflyCreateRequire(import.meta.url);' },
    logLevel: 'warning',
    metafile: true
  })
  if (result.errors.length > 0) process.exitCode = 1
  // What tsc compiled from the bundled sources (relative to dist/): bin/damselfly.js runs them
  // instead of the bundle when one is newer than it, i.e. tsc ran after a change and this did not.
  const compiled = Object.keys(result.metafile.inputs).filter(input => input.startsWith('src/')).map(input => input.replace(/\.ts$/, '.js')).sort()
  await writeFile(join(values.outdir, 'compiled-inputs.json'), JSON.stringify(compiled) + '\n')
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
