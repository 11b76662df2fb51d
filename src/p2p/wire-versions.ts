import type { z } from 'zod'
import { messageSchemas, type Message, type MessageKind } from './messages.js'
import { project10, strict10 } from './messages-1.0.0.js'
import { WireVersionError } from './wire.js'

/**
 * Wire versions: what each one changed, and how a release adds to the wire without splitting a
 * swarm that is halfway through a rolling upgrade. docs/operations.md states the promise:
 * each release swarms with the one before it.
 *
 * | version | first release | what changed |
 * |---|---|---|
 * | 1.0.0 | 0.1.0 | meta, piece, fetch (length-prefixed JSON, src/p2p/wire.ts) and the gossip of src/p2p/messages-1.0.0.ts. Decoding is strict: one unknown field and the message is refused. |
 * | 1.1.0 | 0.2.0 | Same shapes. Decoding is tolerant: unknown fields are dropped, an unknown refusal `reason` reads as 'error'. A peer of 1.1.0 or later may therefore receive fields it does not know. Elected seeds that all speak 1.1.0 cut a cold task by the `pipelined` piece rule (task/piece-plan.ts). |
 *
 * How a version is chosen: every node serves the meta, piece and fetch protocols under the id of
 * every version it speaks (`/damselfly/meta/1.1.0` and `/damselfly/meta/1.0.0`), and a dialer
 * offers its versions newest first; multistream-select agrees on the first one both sides
 * speak. The agreed protocol id (`stream.protocol`) picks the dialect both sides then use:
 * encode with that version's shapes, decode tolerantly. Gossip has no negotiation: the topics
 * (`/damselfly/tasks/1`, `/damselfly/task/1/<id>`) are read by every version, so what is
 * published on them is always projected onto the oldest shapes still served (`gossipDialect`).
 *
 * The rule for changing the wire:
 * 1. A new field is optional, and a peer that never sees it (an older one) must still behave
 *    correctly: add it to src/p2p/messages.ts only. Nothing else is needed: the 1.0.0 dialect
 *    strips it for 0.1.0 peers, and 1.1.0+ peers ignore what they do not know. If a peer that
 *    drops the field would do something wrong, the change needs a new protocol id instead.
 * 2. A new value of an existing field (an enum member, a wider bound) or a changed meaning is not
 *    a new field: it needs a new version (a new row above, a dialect here, new ids), and the
 *    encoder of each older dialect must map it onto something that version accepts.
 * 3. A new protocol (a new name) has no old version to fall back on: dial it only when the
 *    peer's identify lists it (`Swarm.speaks`), and keep working with peers that do not.
 * 4. Never edit the shapes of a released version (src/p2p/messages-1.0.0.ts, test/golden/).
 *    Cutting a release: `node dist/scripts/record-golden.js --release X.Y.Z` records its
 *    messages under test/golden/X.Y.Z/ for the next release's test/wire-compat.test.ts.
 * 5. A version's ids are served until a release documents their end in docs/operations.md; that
 *    release can be at the earliest the second after the one that introduced their successor.
 */
export type WireVersion = '1.0.0' | '1.1.0'

/** How one wire version reads and writes messages. */
export interface WireDialect {
  version: WireVersion
  /** What a received message must pass. */
  decode: { readonly [K in MessageKind]: z.ZodType<Message<K>, unknown> }
  /** What goes on the wire for `message` to a peer of this version. Throws if it cannot be said. */
  encode: <K extends MessageKind>(kind: K, message: Message<K>) => unknown
}

/** The newest version: this release's shapes, unchanged. */
export const dialect11: WireDialect = {
  version: '1.1.0',
  decode: messageSchemas,
  encode: (_kind, message) => message
}

/** Release 0.1.0's version: decoded tolerantly, encoded in exactly the shapes 0.1.0 accepts. */
export const dialect10: WireDialect = {
  version: '1.0.0',
  decode: messageSchemas,
  encode: (kind, message) => {
    const result = project10[kind].safeParse(message)
    if (!result.success) throw new WireVersionError(`a ${kind} cannot be said in wire version 1.0.0: ${result.error.issues[0]?.message ?? 'invalid'}`)
    return result.data
  }
}

/**
 * TEST ONLY: a node of release 0.1.0, as far as the wire shows: 1.0.0 ids only, strict decoding.
 * Chosen with DAMSELFLY_TEST_WIRE=1.0.0 (src/node.ts) for the mixed swarm test.
 */
export const legacyDialect10: WireDialect = { ...dialect10, decode: strict10 }

/** What a node speaks, newest first. */
export const servedDialects: readonly WireDialect[] = [dialect11, dialect10]

/** Gossip topics are read by every served version: publish in the oldest one's shapes. */
export function gossipDialect (dialects: readonly WireDialect[]): WireDialect {
  return dialects[dialects.length - 1]!
}
