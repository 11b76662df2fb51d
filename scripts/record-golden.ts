/**
 * Records golden wire messages: every message type, in every variant, as this release builds
 * and sends it, one JSON file per type under test/golden/<release>/. A later release's
 * wire-compat test decodes them, so each release proves it still understands the one before.
 *
 *   node dist/scripts/record-golden.js --release 0.1.0
 *
 * The examples are built the way the senders build them (the handlers in src/p2p/*-protocol.ts,
 * TaskManager.metadata, askSeed and the preheater's fetch requests, Swarm's gossip), then checked
 * against this release's schemas before they are written: a golden file never holds a message
 * that its own release would refuse.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { fetchRequest, fetchResponse, gossipMessage, metaRequest, metaResponse, pieceRequest, pieceResponse } from '../src/p2p/messages.js'
import { protocols, topics } from '../src/p2p/protocols.js'
import { repoRoot } from '../test/helpers/repo-root.js'
import { goldenExamples, type GoldenFile, type MessageKind } from '../test/golden/examples.js'

const { values } = parseArgs({ options: { release: { type: 'string' }, help: { type: 'boolean' } } })
if (values.help === true || values.release === undefined) {
  console.log('usage: node dist/scripts/record-golden.js --release X.Y.Z\n  writes test/golden/X.Y.Z/<message>.json from this checkout\'s encoders and schemas')
  process.exit(values.help === true ? 0 : 2)
}
const release = values.release

const schemas: Record<MessageKind, z.ZodType> = { metaRequest, metaResponse, pieceRequest, pieceResponse, fetchRequest, fetchResponse, gossipMessage }
const carriedOn: Record<MessageKind, string> = {
  metaRequest: protocols.meta,
  metaResponse: protocols.meta,
  pieceRequest: protocols.piece,
  pieceResponse: protocols.piece,
  fetchRequest: protocols.fetch,
  fetchResponse: protocols.fetch,
  gossipMessage: `${topics.tasks} and ${topics.task('<task>')}`
}

const folder = join(repoRoot(), 'test', 'golden', release)
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
