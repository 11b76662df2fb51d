import { hkdfSync, randomBytes } from 'node:crypto'

/** The bearer token a downloader presents in the first bytes of a data connection. */
export const tokenBytes = 16
/** The serving peer's fresh secret for one data connection; both keys come from it. */
export const secretBytes = 32
/** What a downloader sends before the token: the data protocol and its version. */
export const connectionMagic = Buffer.from('DFD1', 'latin1')

/** One key per direction, so that the two record counters can never reuse a nonce. */
export interface SessionKeys {
  /** Downloader → server: piece requests. */
  request: Buffer
  /** Server → downloader: responses and block bytes. */
  response: Buffer
}

export interface SessionSecret {
  token: Buffer
  secret: Buffer
}

/** A fresh token and secret: random, per data connection, made by the serving peer. */
export function newSessionSecret (): SessionSecret {
  return { token: randomBytes(tokenBytes), secret: randomBytes(secretBytes) }
}

/**
 * Both directions' keys: HKDF-SHA256 over the secret, salted with the token and bound to both
 * peer ids, so a key is good for one data connection between these two peers only.
 */
export function deriveKeys (session: SessionSecret, serverPeer: string, clientPeer: string): SessionKeys {
  const key = (direction: string): Buffer => Buffer.from(hkdfSync('sha256', session.secret, session.token, `damselfly-data/1 ${serverPeer} ${clientPeer} ${direction}`, 32))
  return { request: key('request'), response: key('response') }
}
