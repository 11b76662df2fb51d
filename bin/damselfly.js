#!/usr/bin/env node
// The installed command: the bundle that `npm install` builds (the `prepare` script: tsc, then
// scripts/bundle.ts into dist/bundle/). One file per command loads in a third of the CPU time of
// the ~340 module files under dist/src and node_modules (issue 12; scripts/bench-startup.ts).
// Source maps on, so that stack traces name src/*.ts rather than the bundle's lines.
process.setSourceMapsEnabled(true)
await import('../dist/bundle/main.js')
