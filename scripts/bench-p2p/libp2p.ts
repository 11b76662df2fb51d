/**
 * libp2p (tcp + noise + yamux, `libp2p` kind): the receiver listens, the sender dials and opens
 * the streams, sending with `send()` + `onDrain()`. `makeNode` is also the side channel's
 * control connection.
 */
import { createCipheriv } from 'node:crypto'
import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto, nodeCrypto, pureJsCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Connection, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { byteLength, PROTOCOL, share, untilNoConnections } from './child.js'
import type { Transport } from './kinds.js'
import { TAG_LEN } from './side-records.js'
import type { PathSpec } from './spec.js'

/** noise's default crypto, except that an encrypted message comes back as one contiguous Buffer */
export const concatCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < 1200) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: TAG_LEN })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    const parts: Buffer[] = []
    for (const buf of plaintext instanceof Uint8Array ? [plaintext] : plaintext) parts.push(cipher.update(buf))
    parts.push(cipher.final(), cipher.getAuthTag())
    return Buffer.concat(parts)
  }
}

export async function makeNode (spec: PathSpec, listen: boolean): Promise<Libp2p> {
  const crypto: ICryptoInterface | undefined = spec.crypto === 'js'
    ? pureJsCrypto
    : spec.crypto === 'node'
      ? { ...defaultCrypto, chaCha20Poly1305Encrypt: nodeCrypto.chaCha20Poly1305Encrypt, chaCha20Poly1305Decrypt: nodeCrypto.chaCha20Poly1305Decrypt }
      : spec.crypto === 'concat' ? concatCrypto : undefined
  const streamOptions: { initialStreamWindowSize?: number, maxStreamWindowSize?: number } = {}
  if (spec.iwindow !== undefined) streamOptions.initialStreamWindowSize = spec.iwindow
  if (spec.window !== undefined) streamOptions.maxStreamWindowSize = Math.max(spec.window, spec.iwindow ?? 0)
  // optional alternatives, loaded by name so that the project does not depend on them
  const optional = async (name: string, factory: string): Promise<any> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const mod = await import(name) as Record<string, () => unknown>
    const f = mod[factory]
    if (f === undefined) throw new Error(`${name} has no ${factory}()`)
    return f()
  }
  return await createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp({ dialOpts: { noDelay: spec.nodelay }, listenOpts: { noDelay: spec.nodelay } })],
    connectionEncrypters: [spec.enc === 'tls' ? await optional('@libp2p/tls', 'tls') : noise(crypto === undefined ? {} : { crypto })],
    streamMuxers: [spec.mux === 'mplex' ? await optional('@libp2p/mplex', 'mplex') : yamux({ streamOptions })],
    connectionManager: { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 100 }
  })
}

export const libp2pTransport: Transport = {
  async receive ({ spec, verify, sink, fail }) {
    const node = await makeNode(spec, true)
    await node.handle(PROTOCOL, async (stream: Stream) => {
      const hasher = sink.hasher()
      try {
        for await (const chunk of stream) {
          if (verify) hasher.update(chunk instanceof Uint8Array ? chunk : chunk.subarray())
          sink.add(byteLength(chunk))
        }
        sink.digests.push(hasher.digest())
      } catch (err) { fail(err) }
    }, { maxInboundStreams: 1024 })
    return { target: { addr: node.getMultiaddrs()[0]?.toString() }, close: async () => { await node.stop() } }
  },

  async send ({ spec, size, target, payload, digests, makeHasher, start }) {
    const node = await makeNode(spec, false)
    const ma = multiaddr(target.addr ?? '')
    const conns: Connection[] = []
    for (let i = 0; i < spec.conns; i++) {
      // a second connection to an already connected peer is only opened with force: true
      conns.push(await node.dial(ma, { force: i > 0 }))
    }
    if (new Set(conns.map(c => c.id)).size !== spec.conns) throw new Error('libp2p reused a connection')
    const streams: Stream[] = []
    for (const conn of conns) {
      for (let j = 0; j < spec.streams; j++) streams.push(await conn.newStream(PROTOCOL))
    }
    await start()
    await Promise.all(streams.map(async (stream, i) => {
      const hasher = makeHasher()
      let left = share(size, streams.length, i)
      while (left > 0) {
        const n = Math.min(payload.length, left)
        left -= n
        const chunk = n === payload.length ? payload : payload.subarray(0, n)
        hasher.update(chunk)
        if (!stream.send(chunk)) {
          await stream.onDrain().catch((evt: unknown) => {
            throw evt instanceof Error ? evt : new Error(`stream failed: ${String((evt as { error?: unknown }).error ?? evt)}`)
          })
        }
      }
      await stream.close()
      digests.push(hasher.digest())
    }))
    return { close: async () => { await node.stop() }, waitClosed: async () => { await untilNoConnections(node) } }
  }
}
