/**
 * Rolling upgrades, message by message (docs/operations.md, "Upgrades"): the golden messages of
 * every earlier release (test/golden/<release>/, recorded by scripts/record-golden.ts) decode in
 * this one, and everything this release says to a peer on a 1.0.0 protocol id passes the strict
 * schemas of release 0.1.0 — a frozen copy of its source, standing in for the old binary.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { messageSchemas, type Message, type MessageKind } from '../src/p2p/messages.js'
import { strict10 } from '../src/p2p/messages-1.0.0.js'
import { dialect10, dialect11, gossipDialect, servedDialects } from '../src/p2p/wire-versions.js'
import * as frozen010 from './golden/0.1.0/messages.js'
import { goldenExamples, type GoldenFile } from './golden/examples.js'
import { repoRoot } from './helpers/repo-root.js'

const kinds = Object.keys(messageSchemas) as MessageKind[]
const goldenRoot = join(repoRoot(), 'test', 'golden')
const releases = readdirSync(goldenRoot, { withFileTypes: true }).filter(entry => entry.isDirectory()).map(entry => entry.name)

function goldens (release: string, kind: MessageKind): GoldenFile {
  return JSON.parse(readFileSync(join(goldenRoot, release, `${kind}.json`), 'utf8')) as GoldenFile
}

/** Release 0.1.0's own decoder for each message type, exactly as it shipped. */
const decoder010: Record<MessageKind, z.ZodType> = {
  metaRequest: frozen010.metaRequest,
  metaResponse: frozen010.metaResponse,
  pieceRequest: frozen010.pieceRequest,
  pieceResponse: frozen010.pieceResponse,
  fetchRequest: frozen010.fetchRequest,
  fetchResponse: frozen010.fetchResponse,
  gossipMessage: frozen010.gossipMessage
}

/** A schema as JSON Schema of what it accepts: strict objects show as additionalProperties false. */
const jsonSchema = (schema: z.ZodType): unknown => z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' })

/** `message` as it travels: JSON text, as wire.ts frames it and gossip publishes it. */
const onTheWire = (message: unknown): unknown => JSON.parse(JSON.stringify(message))

/** This release's examples with a field no release has yet, top level and nested where there is nesting. */
function withUnknownFields (kind: MessageKind, message: Record<string, unknown>): Record<string, unknown> {
  const extended: Record<string, unknown> = { ...message, futureField: [1, 2, 3] }
  if (typeof message.meta === 'object') extended.meta = { ...message.meta as object, blockDigests: ['ab'.repeat(32)] }
  if (kind === 'fetchRequest' && typeof message.share === 'object') extended.share = { ...message.share as object, weights: [1] }
  return extended
}

describe('wire compatibility', () => {
  it('golden files exist for release 0.1.0 and every message type', () => {
    assert.ok(releases.includes('0.1.0'), `releases: ${releases.join(', ')}`)
    for (const release of releases) {
      for (const kind of kinds) assert.ok(goldens(release, kind).examples.length > 0, `${release}/${kind}`)
    }
  })

  for (const release of releases) {
    it(`every golden message of release ${release} decodes in this release, unchanged`, () => {
      for (const kind of kinds) {
        for (const example of goldens(release, kind).examples) {
          const result = messageSchemas[kind].safeParse(example.message)
          assert.ok(result.success, `${release} ${kind} "${example.name}": ${result.success ? '' : result.error.message}`)
          // An earlier release's fields are all known here: nothing is lost or changed.
          assert.deepEqual(onTheWire(result.data), example.message, `${release} ${kind} "${example.name}" decodes unchanged`)
          const toOld = onTheWire(dialect10.encode(kind, result.data as never))
          assert.ok(decoder010[kind].safeParse(toOld).success, `${release} ${kind} "${example.name}" said on to a 0.1.0 peer`)
        }
      }
    })
  }

  // Releases after 0.1.0 froze their (tolerant) schemas beside their goldens: what this release
  // sends them, in the newest version they speak, must pass those schemas.
  for (const release of releases.filter(name => name !== '0.1.0' && existsSync(join(goldenRoot, name, 'messages.ts')))) {
    it(`what this release sends a ${release} node passes ${release}’s own schemas`, async () => {
      const theirs = await import(`./golden/${release}/messages.js`) as Record<MessageKind, z.ZodType>
      const newest = /\/(\d+\.\d+\.\d+)/.exec(goldens(release, 'metaRequest').carriedOn)?.[1]
      const dialect = servedDialects.find(candidate => candidate.version === newest)
      assert.ok(dialect !== undefined, `this release still speaks ${release}’s wire version ${newest ?? '?'}`)
      const examples = goldenExamples()
      for (const kind of kinds) {
        for (const example of examples[kind]) {
          const message = messageSchemas[kind].parse(example.message) as Message<typeof kind>
          const sent = onTheWire((kind === 'gossipMessage' ? gossipDialect(servedDialects) : dialect).encode(kind, message))
          assert.ok(theirs[kind].safeParse(sent).success, `${kind} "${example.name}" to a ${release} node`)
        }
      }
    })
  }

  it('the golden messages of 0.1.0 pass its own strict decoder (the goldens are true to it)', () => {
    for (const kind of kinds) {
      for (const example of goldens('0.1.0', kind).examples) {
        assert.ok(decoder010[kind].safeParse(example.message).success, `${kind} "${example.name}"`)
      }
    }
  })

  it('src/p2p/messages-1.0.0.ts describes exactly the frozen 0.1.0 schemas', () => {
    for (const kind of kinds) {
      assert.deepEqual(jsonSchema(strict10[kind]), jsonSchema(decoder010[kind]), kind)
    }
  })

  /** The fields 1.1.0 added (block digests): what a 1.0.0 peer must never receive. */
  function without110Fields (message: unknown): unknown {
    if (Array.isArray(message)) return message.map(without110Fields)
    if (message === null || typeof message !== 'object') return message
    const added = new Set(['blockSize', 'roots', 'blocks'])
    return Object.fromEntries(Object.entries(message).filter(([name]) => !added.has(name)).map(([name, value]) => [name, without110Fields(value)]))
  }

  it('what this release sends on a 1.0.0 id passes 0.1.0’s strict decoder, even with fields 0.1.0 never had', () => {
    const examples = goldenExamples()
    for (const kind of kinds) {
      for (const example of examples[kind]) {
        const message = messageSchemas[kind].parse(example.message) as Message<typeof kind>
        const plain = onTheWire(dialect10.encode(kind, message))
        assert.ok(decoder010[kind].safeParse(plain).success, `${kind} "${example.name}"`)
        assert.deepEqual(plain, onTheWire(without110Fields(example.message)), `${kind} "${example.name}" keeps every 1.0.0 field and drops 1.1.0's`)
        // A later field (as the next wire additions will be) is dropped for 0.1.0, not sent.
        const extended = withUnknownFields(kind, example.message as Record<string, unknown>) as Message<typeof kind>
        const projected = onTheWire(dialect10.encode(kind, extended))
        assert.equal(decoder010[kind].safeParse(onTheWire(extended)).success, false, `0.1.0 refuses ${kind} "${example.name}" with unknown fields`)
        assert.ok(decoder010[kind].safeParse(projected).success, `${kind} "${example.name}" with unknown fields, projected for 1.0.0`)
        assert.deepEqual(projected, plain)
      }
    }
  })

  it('gossip is published in the 1.0.0 shapes, whatever the newest version is', () => {
    assert.equal(gossipDialect(servedDialects).version, '1.0.0')
    const have = { type: 'have' as const, task: 'a'.repeat(64), pieces: [1], digests: ['b'.repeat(64)], pieceRanges: [[0, 4]] }
    const published = onTheWire(gossipDialect(servedDialects).encode('gossipMessage', have))
    assert.ok(frozen010.gossipMessage.safeParse(published).success)
    assert.deepEqual(published, { type: 'have', task: 'a'.repeat(64), pieces: [1], digests: ['b'.repeat(64)] })
  })

  it('a message 1.0.0 cannot express is refused by the encoder, never sent', () => {
    const response = { ok: false, reason: 'quota-exceeded' } as unknown as Message<'pieceResponse'>
    assert.throws(() => dialect10.encode('pieceResponse', response), { code: 'ERR_WIRE_VERSION' })
  })

  it('decoding is tolerant: unknown fields are dropped, unknown refusal reasons read as error', () => {
    const examples = goldenExamples()
    for (const kind of kinds) {
      for (const example of examples[kind]) {
        const extended = withUnknownFields(kind, example.message as Record<string, unknown>)
        const result = dialect11.decode[kind].safeParse(extended)
        assert.ok(result.success, `${kind} "${example.name}" with unknown fields`)
        assert.deepEqual(onTheWire(result.data), onTheWire(example.message), `${kind} "${example.name}": unknown fields dropped, known ones kept`)
      }
    }
    assert.deepEqual(messageSchemas.pieceResponse.parse({ ok: false, reason: 'quota-exceeded', retryAfter: 3 }), { ok: false, reason: 'error' })
    assert.deepEqual(messageSchemas.metaResponse.parse({ ok: false, reason: 'moved' }), { ok: false, reason: 'error' })
  })

  it('known fields are still checked: garbage is an error, with or without unknown fields', () => {
    const task = 'c'.repeat(64)
    const bad: Array<[MessageKind, unknown]> = [
      ['metaRequest', { task: 'not-hex', extra: 1 }],
      ['metaRequest', {}],
      ['pieceRequest', { task, piece: -1, offset: 0, length: 1, extra: true }],
      ['pieceRequest', { task, piece: 0, offset: 0, length: 17 * 1024 * 1024 }],
      ['pieceResponse', { ok: true, length: '5' }],
      ['pieceResponse', { ok: false, reason: 'x'.repeat(300) }],
      ['pieceResponse', { ok: false, reason: 7 }],
      ['metaResponse', { ok: true, meta: { task, unknown: 1 } }],
      ['fetchRequest', { task, key: 'k', url: 'not a url', headers: {} }],
      ['fetchRequest', { task, key: 'k', url: 'https://x.example/a', headers: {}, share: { elected: [] } }],
      ['gossipMessage', { type: 'task', task, complete: 'yes', seed: false }],
      ['gossipMessage', { type: 'unheard-of', task }],
      ['gossipMessage', 'task']
    ]
    for (const [kind, message] of bad) {
      assert.equal(messageSchemas[kind].safeParse(message).success, false, `${kind} ${JSON.stringify(message)}`)
    }
  })
})
