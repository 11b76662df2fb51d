/**
 * fast-check arbitraries for what a hostile peer writes on a Damselfly stream: random bytes,
 * truncated and oversized length-prefixed frames, JSON of the wrong shape, and messages shaped
 * like the zod schemas in src/p2p/messages.ts with one field wrong (or all right).
 */
import fc from 'fast-check'

/** Known-good values the arbitraries mix in, so that some requests reach real code paths. */
export interface P2PFuzzContext {
  taskId: string
  key: string
  url: string
  length: number
  pieceSize: number
}

export function frame (json: string | Buffer): Buffer {
  const body = typeof json === 'string' ? Buffer.from(json) : json
  const header = Buffer.alloc(4)
  header.writeUInt32BE(body.length, 0)
  return Buffer.concat([header, body])
}

const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: 64, maxLength: 64 })
/** Ids that fail the schema: wrong length, case, alphabet, type. */
const badTaskId = fc.oneof(
  fc.string({ maxLength: 80 }),
  hex64.map(id => id.toUpperCase()),
  hex64.map(id => id.slice(1)),
  hex64.map(id => id + '0'),
  fc.constant('../../etc/passwd'),
  fc.integer(),
  fc.constant(null)
)
/** Numbers a peer could put where a count belongs, valid and not. */
const anyNumber = fc.oneof(
  fc.nat(16),
  fc.integer({ min: -10, max: -1 }),
  fc.double(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 2 ** 32, 2 ** 31 - 1, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1, 16 * 1024 * 1024 + 1, 1e308, -0),
  fc.constantFrom('1', '0x10', true, null, [], {})
)

function taskIds (context: P2PFuzzContext): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: fc.constant(context.taskId), weight: 3 }, { arbitrary: hex64, weight: 1 }, { arbitrary: badTaskId, weight: 1 })
}

/** An object with a few fields swapped, dropped or added: still JSON, rarely valid. */
function mutated (base: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc.tuple(base, fc.nat(5), fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 10 })).map(([object, how, value, name]) => {
    const keys = Object.keys(object)
    const victim = keys[how % Math.max(1, keys.length)] ?? 'task'
    switch (how) {
      case 0: return object
      case 1: return { ...object, [victim]: value }
      case 2: { const { [victim]: _dropped, ...rest } = object; return rest }
      case 3: return { ...object, [name === '' ? 'extra' : name]: value }
      case 4: return JSON.parse(`{"__proto__": {"polluted": true}, ${JSON.stringify(object).slice(1)}`) as unknown
      default: return [object]
    }
  })
}

export function metaRequests (context: P2PFuzzContext): fc.Arbitrary<unknown> {
  return mutated(fc.record({ task: taskIds(context) }))
}

export function pieceRequests (context: P2PFuzzContext): fc.Arbitrary<unknown> {
  const pieces = Math.ceil(context.length / context.pieceSize)
  const inBounds = fc.integer({ min: 0, max: pieces - 1 }).chain(piece => {
    const size = Math.min(context.pieceSize, context.length - piece * context.pieceSize)
    return fc.integer({ min: 0, max: size - 1 }).chain(offset => fc.integer({ min: 1, max: size - offset }).map(length => ({ task: context.taskId, piece, offset, length })))
  })
  const loose = fc.record({ task: taskIds(context), piece: anyNumber, offset: anyNumber, length: anyNumber })
  return fc.oneof(inBounds, mutated(loose), mutated(inBounds))
}

export function fetchRequests (context: P2PFuzzContext): fc.Arbitrary<unknown> {
  const urls = fc.oneof(
    fc.constant(context.url),
    fc.constantFrom('ftp://x/y', 'not a url', 'http://[::g]/', 'file:///etc/passwd', 'javascript:alert(1)', 'http://127.0.0.1:1/repos/x'),
    fc.string({ maxLength: 40 })
  )
  return mutated(fc.record({
    task: taskIds(context),
    key: fc.oneof(fc.constant(context.key), fc.string({ maxLength: 80 })),
    url: urls,
    headers: fc.oneof(fc.constant({}), fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 }), { maxKeys: 5 }), fc.jsonValue({ maxDepth: 1 })),
    share: fc.oneof(fc.constant(undefined), fc.record({ elected: fc.array(fc.string({ maxLength: 140 }), { maxLength: 20 }) }), fc.jsonValue({ maxDepth: 1 }))
  }))
}

/** What a hostile peer writes on one stream, with a note for failure messages. */
export interface StreamPayload {
  label: string
  bytes: Buffer
  /** The JSON message when `bytes` is exactly one well-formed frame of it. */
  message?: unknown
}

/** Every shape of bad input for a length-prefixed JSON protocol, around `messages`. */
export function framedPayloads (messages: fc.Arbitrary<unknown>): fc.Arbitrary<StreamPayload> {
  return fc.oneof(
    { weight: 4, arbitrary: messages.map(message => ({ label: `message ${JSON.stringify(message)?.slice(0, 300)}`, bytes: frame(JSON.stringify(message) ?? 'null'), message })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }).map(bytes => ({ label: `random bytes ${Buffer.from(bytes).subarray(0, 32).toString('hex')}`, bytes: Buffer.from(bytes) })) },
    {
      weight: 1,
      arbitrary: fc.tuple(messages, fc.double({ min: 0, max: 0.99, noNaN: true })).map(([message, cut]) => {
        const whole = frame(JSON.stringify(message) ?? 'null')
        return { label: `frame cut at ${Math.floor(whole.length * cut)} of ${whole.length}`, bytes: whole.subarray(0, Math.floor(whole.length * cut)) }
      })
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.integer({ min: 4 * 1024 * 1024 + 1, max: 0xffffffff }), fc.uint8Array({ maxLength: 64 })).map(([length, tail]) => {
        const header = Buffer.alloc(4)
        header.writeUInt32BE(length, 0)
        return { label: `length prefix ${length}`, bytes: Buffer.concat([header, Buffer.from(tail)]) }
      })
    },
    {
      weight: 1,
      arbitrary: fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom('{', '{"task":', '\u0000', '[]'.repeat(1000), '{"a":'.repeat(5000))).map(value => {
        const json = typeof value === 'string' ? value : JSON.stringify(value)
        return { label: `JSON of the wrong shape ${json.slice(0, 100)}`, bytes: frame(json) }
      })
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 64 * 1024, max: 4 * 1024 * 1024 }).map(size => ({ label: `a ${size}-byte frame of spaces`, bytes: frame(Buffer.alloc(size, ' ')) }))
    },
    {
      weight: 1,
      arbitrary: fc.tuple(messages, fc.uint8Array({ minLength: 1, maxLength: 512 })).map(([message, tail]) => ({
        label: `a message then ${tail.length} more bytes`,
        bytes: Buffer.concat([frame(JSON.stringify(message) ?? 'null'), Buffer.from(tail)])
      }))
    }
  )
}

/** Raw input for protocols that are not ours (kad-dht, identify, ping, gossipsub): varint frames and noise. */
export const rawPayloads: fc.Arbitrary<StreamPayload> = fc.oneof(
  fc.uint8Array({ maxLength: 8192 }).map(bytes => ({ label: `random bytes ${Buffer.from(bytes).subarray(0, 32).toString('hex')}`, bytes: Buffer.from(bytes) })),
  fc.tuple(fc.integer({ min: 0, max: 2 ** 31 }), fc.uint8Array({ maxLength: 2048 })).map(([length, body]) => ({
    label: `varint length ${length} then ${body.length} bytes`,
    bytes: Buffer.concat([varint(length), Buffer.from(body)])
  })),
  fc.constantFrom(
    { label: 'endless varint', bytes: Buffer.alloc(64, 0xff) },
    { label: 'empty', bytes: Buffer.alloc(0) },
    { label: 'a 4 MiB varint frame', bytes: Buffer.concat([varint(4 * 1024 * 1024), Buffer.alloc(4 * 1024 * 1024, 0x0a)]) }
  )
)

function varint (value: number): Buffer {
  const bytes: number[] = []
  let rest = value
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
  return Buffer.from(bytes)
}

/** Gossip bodies: garbage, wrong JSON, and schema-shaped messages with wrong or hostile fields. */
export function gossipPayloads (taskIdsOnTopic: string[]): fc.Arbitrary<Buffer> {
  const task = fc.oneof(fc.constantFrom(...taskIdsOnTopic), hex64, badTaskId)
  const digest = fc.oneof(hex64, fc.string({ maxLength: 70 }))
  return fc.oneof(
    fc.uint8Array({ maxLength: 2048 }).map(bytes => Buffer.from(bytes)),
    fc.jsonValue({ maxDepth: 3 }).map(value => Buffer.from(JSON.stringify(value))),
    mutated(fc.record({ type: fc.constant('task'), task, complete: fc.boolean(), seed: fc.boolean() })).map(toJson),
    mutated(fc.record({ type: fc.constant('withdraw'), task })).map(toJson),
    mutated(fc.record({
      type: fc.constant('have'),
      task,
      pieces: fc.array(fc.oneof(fc.nat(64), fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 32, -1, 1.5)), { maxLength: 200 }),
      digests: fc.array(digest, { maxLength: 200 })
    })).map(toJson)
  )
}

function toJson (value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value) ?? 'null')
}
