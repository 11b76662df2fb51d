import type { PeerId, Stream } from '@libp2p/interface'
import type { Logger } from '../logging/logger.js'
import type { P2PHost } from './host.js'
import { protocolId, type ProtocolName } from './protocols.js'
import { ProtocolError, wire, type Wire } from './wire.js'
import type { WireDialect } from './wire-versions.js'

/**
 * One request/response exchange on a fresh stream: dial, run `talk`, close. Any failure resets
 * the stream, so the other side never mistakes a broken exchange for a finished one.
 *
 * The stream offers `protocol` in each of `dialects`' versions, newest first; `talk` gets the
 * dialect of the version the peer agreed to, and must speak it.
 */
export async function exchange<T> (host: P2PHost, peer: PeerId, protocol: ProtocolName, dialects: readonly WireDialect[], maxBufferBytes: number, signal: AbortSignal, talk: (bytes: Wire, dialect: WireDialect) => Promise<T>): Promise<T> {
  const stream = await host.dialProtocol(peer, dialects.map(dialect => protocolId(protocol, dialect.version)), { signal })
  try {
    const dialect = dialects.find(candidate => protocolId(protocol, candidate.version) === stream.protocol)
    if (dialect === undefined) throw new ProtocolError(`agreed on ${stream.protocol}, which was not offered`)
    const result = await talk(wire(stream, maxBufferBytes), dialect)
    await stream.close({ signal }).catch(() => {})
    return result
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)))
    throw error
  }
}

/** The handler side of `exchange`: bounded in time, failures reset the stream and are logged. */
export async function serveExchange (stream: Stream, maxBufferBytes: number, timeoutMs: number, log: Logger, talk: (bytes: Wire, signal: AbortSignal) => Promise<void>): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    await talk(wire(stream, maxBufferBytes), signal)
    await stream.close({ signal })
  } catch (error) {
    log.debug('peer request failed', { error })
    stream.abort(error instanceof Error ? error : new Error(String(error)))
  }
}
