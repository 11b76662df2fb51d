/**
 * Raw TCP (`tcp`) and TCP through Node streams (`tcp-stream`): the sender (uploader) listens and
 * the receiver connects, as a downloader fetches from an uploader; connecting lets the receiver
 * read with `onread` into one reused buffer.
 */
import { once } from 'node:events'
import net from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { connectReceiving, deferred, share, writeAll } from './child.js'
import type { Transport } from './kinds.js'

export const tcpTransport: Transport = {
  async receive ({ spec, target, sink, fail }) {
    const socks: net.Socket[] = []
    for (let i = 0; i < spec.conns; i++) {
      const hasher = sink.hasher()
      let sock: net.Socket
      if (spec.kind === 'tcp') {
        sock = connectReceiving(spec, target.port ?? 0, '127.0.0.1', chunk => { hasher.update(chunk); sink.add(chunk.length); return true })
        sock.on('end', () => { sink.digests.push(hasher.digest()) })
      } else {
        const s = net.connect(target.port ?? 0, '127.0.0.1')
        sock = s
        void (async () => {
          for await (const chunk of s) { hasher.update(chunk as Buffer); sink.add((chunk as Buffer).length) }
          sink.digests.push(hasher.digest())
        })().catch(fail)
      }
      sock.on('error', fail)
      await once(sock, 'connect')
      socks.push(sock)
    }
    return { target: {}, close: async () => { for (const s of socks) s.destroy() } }
  },

  async send ({ spec, size, payload, digests, makeHasher, ready, start }) {
    const accepted: net.Socket[] = []
    const all = deferred<void>()
    const server = net.createServer(sock => {
      accepted.push(sock)
      if (accepted.length === spec.conns) all.resolve()
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    ready({ port: (server.address() as net.AddressInfo).port })
    await all.promise
    await start()
    await Promise.all(accepted.map(async (sock, i) => {
      const bytes = share(size, accepted.length, i)
      const hasher = makeHasher()
      if (spec.kind === 'tcp') {
        await writeAll(sock, payload, bytes, hasher)
      } else {
        const chunks = function * (): Generator<Buffer> {
          let left = bytes
          while (left > 0) {
            const n = Math.min(payload.length, left)
            left -= n
            const chunk = n === payload.length ? payload : payload.subarray(0, n)
            hasher.update(chunk)
            yield chunk
          }
        }
        await pipeline(Readable.from(chunks()), sock)
      }
      digests.push(hasher.digest())
    }))
    return { close: async () => { server.close() }, waitClosed: async () => {} }
  }
}
