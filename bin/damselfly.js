#!/usr/bin/env node
// The installed command. The TypeScript is compiled by `npm install` (the `prepare` script).
import '../dist/src/cli/main.js'
