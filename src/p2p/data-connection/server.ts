import { createServer, type Server, type Socket } from 'node:net'
import type { Connection, Stream } from '@libp2p/interface'
import type { HostPort } from '../../config/index.js'
import type { Logger } from '../../logging/logger.js'
import type { LocalTasks } from '../local-tasks.js'
import type { PieceServerInit } from '../piece-protocol.js'
import { serveExchange } from '../exchange.js'
import { readFrame, writeFrame } from '../wire.js'
import { connectionMagic, deriveKeys, newSessionSecret, tokenBytes, type SessionKeys } from './keys.js'
import { dataOfferRequest, type DataOfferResponse } from './messages.js'
import { defaultCipher, type RecordCipher } from './records.js'
import { serveConnection } from './serve-connection.js'

/** An offered token not presented within this long is forgotten. */
const tokenLifetimeMs = 10_000
/** Offers outstanding at once; past this the node answers busy. */
const maxOutstandingTokens = 1024
const maxConnections = 512
/** A connection must present its token within this long. */
const helloTimeoutMs = 5_000
/** A data connection with no traffic this long is closed (the downloader reopens it when needed). */
const idleTimeoutMs = 5 * 60_000

export interface DataServerComponents {
  tasks: LocalTasks
  logger: Logger
}

export interface DataServerInit extends PieceServerInit {
  listen: HostPort
  /** This node's `--data-encryption`. */
  encrypt: boolean
  /** This node's peer id, bound into the keys. */
  peerId: string
  cipher?: RecordCipher
  /** Block bytes sent on data connections (not counting headers). */
  onSent?: (bytes: number) => void
}

interface Session {
  keys: SessionKeys
  encrypt: boolean
  /** The downloader acks the block bytes it receives. */
  acks: boolean
  expires: number
}

/**
 * The holder's side of data connections: a TCP listener for piece bytes, and the libp2p
 * handler that hands each downloader a one-use token and the secret its keys come from. A
 * connection presenting no valid token is closed before it is read any further.
 */
export class DataServer {
  private readonly components: DataServerComponents
  private readonly init: DataServerInit
  private readonly log: Logger
  private readonly sessions = new Map<string, Session>()
  private readonly sockets = new Set<Socket>()
  private server?: Server
  private listening?: HostPort

  constructor (components: DataServerComponents, init: DataServerInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('data')
  }

  /** Where the listener is, once started. */
  get address (): HostPort | undefined {
    return this.listening
  }

  async start (): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => { this.accept(socket) })
    server.maxConnections = maxConnections
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.init.listen.port, this.init.listen.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    server.on('error', (error) => { this.log.warn('data listener failed', { error }) })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('the data listener has no TCP address')
    this.server = server
    this.listening = { host: address.address, port: address.port }
  }

  async stop (): Promise<void> {
    const server = this.server
    this.server = undefined
    this.sessions.clear()
    for (const socket of this.sockets) socket.destroy()
    if (server !== undefined) await new Promise(resolve => server.close(resolve))
  }

  /** The `/damselfly/data/1.0.0` handler: runs over noise, so only a peer let in (PSK) gets here. */
  handler () {
    return async (stream: Stream, connection: Connection): Promise<void> => {
      await serveExchange(stream, 4096, 10_000, this.log, async (bytes, signal) => {
        const request = await readFrame(bytes, dataOfferRequest, signal)
        await writeFrame(bytes, this.offer(connection.remotePeer.toString(), request.encrypt, request.acks === true), signal)
      })
    }
  }

  /** A fresh token and secret for one data connection from `clientPeer` (`clientAcks`: it will ack what it receives). */
  offer (clientPeer: string, clientEncrypt: boolean, clientAcks = false): DataOfferResponse {
    const now = Date.now()
    for (const [token, session] of this.sessions) if (session.expires <= now) this.sessions.delete(token)
    if (this.listening === undefined) return { ok: false, reason: 'disabled' }
    if (this.sessions.size >= maxOutstandingTokens) return { ok: false, reason: 'busy' }
    const secret = newSessionSecret()
    const encrypt = this.init.encrypt || clientEncrypt
    this.sessions.set(secret.token.toString('hex'), { keys: deriveKeys(secret, this.init.peerId, clientPeer), encrypt, acks: clientAcks, expires: now + tokenLifetimeMs })
    return { ok: true, port: this.listening.port, token: secret.token.toString('base64'), secret: secret.secret.toString('base64'), encrypt, ...(clientAcks ? { acks: true } : {}) }
  }

  private accept (socket: Socket): void {
    this.sockets.add(socket)
    socket.on('close', () => { this.sockets.delete(socket) })
    socket.on('error', (error) => { this.log.debug('data connection error', { error }) })
    const helloBytes = connectionMagic.length + tokenBytes
    let received = Buffer.alloc(0)
    const timer = setTimeout(() => { socket.destroy() }, helloTimeoutMs)
    const onHello = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk])
      if (received.length < helloBytes) return
      clearTimeout(timer)
      socket.off('data', onHello)
      const session = this.take(received.subarray(0, helloBytes))
      if (session === undefined) {
        // An unknown, used or expired token: nothing more is read.
        socket.destroy()
        return
      }
      socket.setTimeout(idleTimeoutMs, () => { socket.destroy() })
      const cipher = this.init.cipher ?? defaultCipher
      serveConnection(socket, received.subarray(helloBytes), this.components.tasks, this.log, {
        ...this.init,
        requests: { cipher, ...(session.encrypt ? { key: session.keys.request } : {}) },
        responses: { cipher, ...(session.encrypt ? { key: session.keys.response } : {}) },
        acks: session.acks
      })
    }
    socket.on('data', onHello)
  }

  /** The session a hello names, removed: a token opens one connection only. */
  private take (hello: Buffer): Session | undefined {
    if (!hello.subarray(0, connectionMagic.length).equals(connectionMagic)) return undefined
    const token = hello.subarray(connectionMagic.length).toString('hex')
    const session = this.sessions.get(token)
    this.sessions.delete(token)
    if (session === undefined || session.expires <= Date.now()) return undefined
    return session
  }
}
