/**
 * Private networks: only nodes holding the same pre-shared key can connect. The key file
 * format and the wire format are go-libp2p's and `@libp2p/pnet`'s.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ connectionProtector: pskProtector({ psk: await readFile('swarm.key') }), ... })
 * ```
 */
export { pskProtector, PSK_NONCE_LENGTH } from './psk-protector.js'
export type { PskProtectorInit, PskProtectorComponents } from './psk-protector.js'
export { generatePskKey, parsePskKey, readPskFile, resolvePskKey, PSK_KEY_LENGTH } from './key-file.js'
export { XSalsa20Stream, MAX_KEYSTREAM_BLOCKS } from './xsalsa20-stream.js'
export type { XSalsa20StreamInit } from './xsalsa20-stream.js'
export { PskKeyError, PskHandshakeError, PskKeyMismatchError, PskKeystreamExhaustedError } from './errors.js'
