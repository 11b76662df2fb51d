/**
 * Records golden wire messages: every message type, in every variant, as this release builds
 * and sends it, one JSON file per type under test/golden/<release>/, and freezes this release's
 * schema source beside them (messages.ts). A later release's test/wire-compat.test.ts decodes
 * the messages, and can check what it sends against the frozen schemas: each release proves it
 * still swarms with the one before. Run it when cutting a release (src/p2p/wire-versions.ts).
 *
 *   node dist/scripts/record-golden.js --release 0.1.0
 *
 * The examples are built the way the senders build them (the handlers in src/p2p/*-protocol.ts,
 * TaskManager.metadata, askSeed and the preheater's fetch requests, Swarm's gossip), then checked
 * against this release's schemas before they are written: a golden file never holds a message
 * that its own release would refuse.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { messageSchemas } from '../src/p2p/messages.js'
import { protocolId, topics } from '../src/p2p/protocols.js'
import { servedDialects } from '../src/p2p/wire-versions.js'
import { repoRoot } from '../test/helpers/repo-root.js'
import { goldenExamples, type GoldenFile, type MessageKind } from '../test/golden/examples.js'
import { scriptArgs, usageExitCode } from './lib/args.js'

const values = scriptArgs({
  name: 'record-golden',
  summary: 'Writes test/golden/X.Y.Z/<message>.json and messages.ts from this checkout\'s senders and schemas.',
  options: {
    release: { type: 'string', valueName: 'X.Y.Z', description: 'the release the goldens are recorded for (required)' },
    force: { type: 'boolean', description: 'overwrite a recorded release (only before it ships: a shipped release\'s goldens never change)' }
  }
})
if (values.release === undefined) {
  process.stderr.write('record-golden: --release X.Y.Z is required. `node dist/scripts/record-golden.js --help` lists the options.\n')
  process.exit(usageExitCode)
}
const release = values.release

const schemas: Record<MessageKind, z.ZodType> = messageSchemas
const ids = (name: 'meta' | 'piece' | 'fetch'): string => servedDialects.map(dialect => protocolId(name, dialect.version)).join(' and ')
const carriedOn: Record<MessageKind, string> = {
  metaRequest: ids('meta'),
  metaResponse: ids('meta'),
  pieceRequest: ids('piece'),
  pieceResponse: ids('piece'),
  fetchRequest: ids('fetch'),
  fetchResponse: ids('fetch'),
  gossipMessage: `${topics.tasks} and ${topics.task('<task>')}`
}

const folder = join(repoRoot(), 'test', 'golden', release)
if (existsSync(folder) && values.force !== true) {
  console.error(`test/golden/${release} exists: a recorded release's goldens never change (--force before it ships)`)
  process.exit(1)
}
await mkdir(folder, { recursive: true })
for (const [kind, examples] of Object.entries(goldenExamples()) as Array<[MessageKind, Array<{ name: string, message: unknown }>]>) {
  for (const example of examples) {
    const result = schemas[kind].safeParse(example.message)
    if (!result.success) throw new Error(`${kind} "${example.name}" fails this release's schema: ${result.error.message}`)
  }
  const file: GoldenFile = { release, kind, carriedOn: carriedOn[kind], examples }
  await writeFile(join(folder, `${kind}.json`), JSON.stringify(file, null, 2) + '\n')
  console.log(`${kind}: ${examples.length} examples`)
}
const source = await readFile(join(repoRoot(), 'src', 'p2p', 'messages.ts'), 'utf8')
const header = `/**\n * FROZEN: src/p2p/messages.ts exactly as release ${release} shipped it, below this comment. The\n * next release's test/wire-compat.test.ts checks what it sends against it. Never edit it.\n */\n`
await writeFile(join(folder, 'messages.ts'), header + source)
console.log('messages.ts: frozen')
