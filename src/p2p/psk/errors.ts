import { DamselflyError } from '../../errors.js'

/**
 * The private-network key is unusable: the file is missing or unreadable, or it is not a
 * `/key/swarm/psk/1.0.0/` key file. Messages never quote key material.
 */
export class PskKeyError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_PSK_KEY', message, options)
  }
}

/**
 * The nonce exchange that opens a protected connection did not complete: the peer sent
 * nothing in time, or the connection ended first. (A peer with another key passes this step:
 * see {@link PskKeyMismatchError}.)
 */
export class PskHandshakeError extends DamselflyError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_PSK_HANDSHAKE', message, options)
  }
}

/**
 * One direction of a protected connection used up its keystream (2^32 - 1 XSalsa20 blocks,
 * about 256 GiB). The connection is closed with this error rather than reuse keystream; a new
 * connection starts with fresh nonces.
 */
export class PskKeystreamExhaustedError extends DamselflyError {
  constructor (message: string) {
    super('ERR_PSK_KEYSTREAM_EXHAUSTED', message)
  }
}

/**
 * The peer holds another private-network key, or none: what it sent does not decrypt to the
 * multistream-select header every libp2p upgrade starts with (or it sent that header in the
 * clear). The connection is refused at once.
 */
export class PskKeyMismatchError extends DamselflyError {
  constructor (message: string) {
    super('ERR_PSK_KEY_MISMATCH', message)
  }
}
