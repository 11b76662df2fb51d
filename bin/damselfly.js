#!/usr/bin/env node
// The installed command. It runs the bundle that `npm install` builds (the `prepare` script:
// tsc into dist/src/, then scripts/bundle.ts into dist/bundle/): one file per command loads in
// well under half the CPU time of the ~340 module files under dist/src/ and node_modules
// (issue 12; scripts/bench-startup.ts). Source maps are off unless DAMSELFLY_SOURCE_MAPS=1 (or
// NODE_OPTIONS=--enable-source-maps): logs carry no stack traces, yet Node's streams read the
// stack of every error they destroy with, and the first such read parsed the bundle's 1.7 MB map
// (4 % of a node's CPU in an 8-node bench-swarm round). Crash traces then name bundle lines.
//
// A bundle older than a file tsc compiled since (`npx tsc -p tsconfig.json` after a change,
// without `npm run build`) would run code that is no longer the source's: then the module
// files under dist/src/ run instead (the check: ~150 stat calls, ~2 ms).
import { readFileSync, statSync } from 'node:fs'

const dist = new URL('../dist/', import.meta.url)
const bundled = statSync(new URL('bundle/main.js', dist), { throwIfNoEntry: false })?.mtimeMs
let inputs = []
try { inputs = JSON.parse(readFileSync(new URL('bundle/compiled-inputs.json', dist), 'utf8')) } catch {}
const stale = bundled === undefined || inputs.some(file => (statSync(new URL(file, dist), { throwIfNoEntry: false })?.mtimeMs ?? 0) > bundled)
if (process.env.DAMSELFLY_SOURCE_MAPS === '1') process.setSourceMapsEnabled(true)
await import(stale ? '../dist/src/cli/main.js' : '../dist/bundle/main.js')
