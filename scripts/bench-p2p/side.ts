/**
 * The noise-keyed side channel (`side`): the receiver listens for libp2p; the sender dials it and,
 * per data connection, runs a key exchange on a libp2p stream (hello: sender random, session id,
 * data port; reply: receiver random; go-ahead); the receiver then connects to the sender's data
 * port, presents the session id and reads records (rec=aead|async), TLS-PSK (rec=tls) or plain
 * bytes (rec=plain). The prototype of src/p2p/data-connection/.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import net from 'node:net'
import tls from 'node:tls'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { connectReceiving, deferred, hostOf, readExactly, share, SIDE_PROTOCOL, untilNoConnections, writeAll } from './child.js'
import type { Transport } from './kinds.js'
import { makeNode } from './libp2p.js'
import { AsyncRecordReader, deriveKey, importAesKey, RecordReader, sendRecords, sendRecordsAsync, SID_LEN, tlsPskCiphers } from './side-records.js'
import { parseSpec } from './spec.js'

export const sideTransport: Transport = {
  async receive ({ spec, sink, fail }) {
    const node = await makeNode(parseSpec('libp2p-stock'), true)
    const socks: net.Socket[] = []
    await node.handle(SIDE_PROTOCOL, async (stream: Stream, connection: Connection) => {
      try {
        const lp = lpStream(stream)
        const hello = Buffer.from((await lp.read()).subarray())
        if (hello.length !== 32 + SID_LEN + 2) throw new Error('bad key exchange hello')
        const senderRandom = hello.subarray(0, 32)
        const sid = hello.subarray(32, 32 + SID_LEN)
        const port = hello.readUInt16BE(32 + SID_LEN)
        const receiverRandom = randomBytes(32)
        // the key is bound to both peer ids as the noise handshake authenticated them
        const key = deriveKey(senderRandom, receiverRandom, sid, connection.remotePeer.toString(), node.peerId.toString())
        await lp.write(receiverRandom)
        await lp.read() // the sender's go-ahead: it holds the key now
        await stream.close()
        const host = hostOf(connection)
        const hasher = sink.hasher()
        if (spec.rec === 'tls') {
          const sock = tls.connect({
            host,
            port,
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.2',
            ciphers: tlsPskCiphers(spec.cipher),
            pskCallback: () => ({ psk: key, identity: sid.toString('hex') }),
            checkServerIdentity: () => undefined
          })
          sock.on('data', (chunk: Buffer) => { hasher.update(chunk); sink.add(chunk.length) })
          sock.on('end', () => { sink.digests.push(hasher.digest()) })
          sock.on('error', fail)
          socks.push(sock)
        } else if (spec.rec === 'plain') {
          const sock: net.Socket = connectReceiving(spec, port, host, chunk => { hasher.update(chunk); sink.add(chunk.length); return true })
          sock.on('connect', () => { sock.setNoDelay(true); sock.write(sid) })
          sock.on('end', () => { sink.digests.push(hasher.digest()) })
          sock.on('error', fail)
          socks.push(sock)
        } else if (spec.rec === 'async') {
          const reader = new AsyncRecordReader(await importAesKey(key, 'decrypt'), spec.depth, plain => { hasher.update(plain); sink.add(plain.length) }, () => { sink.digests.push(hasher.digest()) }, fail)
          const sock: net.Socket = connectReceiving(spec, port, host, chunk => {
            try { return reader.push(chunk) } catch (err) { sock.destroy(); fail(err); return false }
          })
          reader.onRoom = () => { sock.resume() }
          sock.on('connect', () => { sock.setNoDelay(true); sock.write(sid) })
          sock.on('end', () => { if (!reader.ended) fail(new Error('data connection ended before the final record')) })
          sock.on('error', fail)
          socks.push(sock)
        } else {
          const reader = new RecordReader(spec.cipher, key, plain => { hasher.update(plain); sink.add(plain.length) }, () => { sink.digests.push(hasher.digest()) }, spec.slice)
          const sock: net.Socket = connectReceiving(spec, port, host, chunk => {
            try { reader.push(chunk) } catch (err) { sock.destroy(); fail(err) }
            return true
          })
          sock.on('connect', () => { sock.setNoDelay(true); sock.write(sid) })
          sock.on('end', () => { if (!reader.ended) fail(new Error('data connection ended before the final record')) })
          sock.on('error', fail)
          socks.push(sock)
        }
      } catch (err) { fail(err) }
    }, { maxInboundStreams: 1024 })
    return {
      target: { addr: node.getMultiaddrs()[0]?.toString() },
      close: async () => { for (const s of socks) s.destroy(); await node.stop() }
    }
  },

  async send ({ spec, size, target, payload, digests, makeHasher, start }) {
    const node = await makeNode(parseSpec('libp2p-stock'), false)
    // session id -> key; single use, so a replayed or second connection finds nothing
    const sessions = new Map<string, Buffer>()
    const takeKey = (sid: string): Buffer | undefined => {
      const key = sessions.get(sid)
      sessions.delete(sid)
      return key
    }
    const channels: Array<{ sock: net.Socket, key: Buffer }> = []
    const allConnected = deferred<void>()
    const addChannel = (sock: net.Socket, key: Buffer): void => {
      channels.push({ sock, key })
      if (channels.length === spec.conns) allConnected.resolve()
    }
    const server: net.Server = spec.rec === 'tls'
      ? tls.createServer({
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: tlsPskCiphers(spec.cipher),
        pskCallback: (_socket, identity) => takeKey(identity) ?? null
      }, sock => { sock.setNoDelay(true); addChannel(sock, Buffer.alloc(0)) })
      : net.createServer(sock => {
        sock.setNoDelay(true)
        void readExactly(sock, SID_LEN).then(sid => {
          const key = takeKey(sid.toString('hex'))
          if (key === undefined) { sock.destroy(); return }
          addChannel(sock, key)
        }).catch(() => { sock.destroy() })
      })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as net.AddressInfo).port
    const conn = await node.dial(multiaddr(target.addr ?? ''))
    for (let i = 0; i < spec.conns; i++) {
      // one key exchange, so one key, per data connection
      const stream = await conn.newStream(SIDE_PROTOCOL)
      const lp = lpStream(stream)
      const senderRandom = randomBytes(32)
      const sid = randomBytes(SID_LEN)
      const portBytes = Buffer.alloc(2)
      portBytes.writeUInt16BE(port)
      await lp.write(Buffer.concat([senderRandom, sid, portBytes]))
      const receiverRandom = (await lp.read()).subarray()
      if (receiverRandom.length !== 32) throw new Error('bad key exchange reply')
      sessions.set(sid.toString('hex'), deriveKey(senderRandom, receiverRandom, sid, node.peerId.toString(), conn.remotePeer.toString()))
      await lp.write(Uint8Array.of(1)) // go: the receiver may connect now
      await stream.close()
    }
    await allConnected.promise
    await start()
    await Promise.all(channels.map(async ({ sock, key }, i) => {
      const hasher = makeHasher()
      const bytes = share(size, channels.length, i)
      // TLS frames the bytes itself (16 KiB records, OpenSSL AEAD, sequence numbers in the nonce)
      if (spec.rec === 'tls' || spec.rec === 'plain') await writeAll(sock, payload, bytes, hasher)
      else if (spec.rec === 'async') await sendRecordsAsync(sock, await importAesKey(key, 'encrypt'), payload, bytes, hasher, spec.depth)
      else await sendRecords(sock, key, spec.cipher, payload, bytes, hasher, spec.slice)
      digests.push(hasher.digest())
    }))
    return { close: async () => { server.close(); await node.stop() }, waitClosed: async () => { await untilNoConnections(node) } }
  }
}
