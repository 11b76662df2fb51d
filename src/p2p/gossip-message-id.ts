import type { RPC } from '@libp2p/gossipsub/message'

/**
 * gossipsub's "fast message id": the key of the cache it checks before validating a received
 * message. Without one, every copy of a message (one from each mesh peer that forwards it, on
 * top of the publisher's own) has its signature checked, and @libp2p/crypto rebuilds the
 * sender's public key for each check: in an 8-node swarm that was 6 % of a node's samples.
 *
 * Under StrictSign the message id is `from` + `seqno` (gossipsub's `msgIdFnStrictSign`), so
 * this key names the same message. A copy is taken for a duplicate only once a message with
 * that key passed validation (gossipsub caches the key after, never before), and a valid
 * signature over another message with the same `from` and `seqno` needs the sender's key.
 * An unsigned message has no such key; its fixed key is never cached, since StrictSign rejects it.
 */
export function fastMessageId (message: RPC.Message): string {
  if (message.from === undefined || message.seqno === undefined) return 'unsigned'
  return Buffer.from(message.from).toString('base64') + ':' + Buffer.from(message.seqno).toString('base64')
}
