import './dist/src/polyfill.js'
import { createP2PHost } from './dist/src/p2p/host.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { requestBlock } from './dist/src/p2p/piece-protocol.js'
import { wire, readFrame, writeFrame } from './dist/src/p2p/wire.js'
import { pieceRequest } from './dist/src/p2p/messages.js'
import { protocols } from './dist/src/p2p/protocols.js'
const block = Buffer.alloc(4 * 1024 * 1024, 7)
const slice = Number(process.argv[3] ?? 262144)
const mode = process.argv[4] ?? 'await'
const a = await createP2PHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
const b = await createP2PHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
await a.handle(protocols.piece, async (stream) => {
  const bytes = wire(stream, 65536)
  const req = await readFrame(bytes, pieceRequest)
  await writeFrame(bytes, { ok: true, length: block.length })
  for (let o = 0; o < block.length; o += slice) {
    const part = block.subarray(o, o + slice)
    if (mode === 'await') await bytes.write(part)
    else if (!stream.send(part)) await stream.onDrain()
  }
  await stream.close()
}, { maxInboundStreams: 256 })
await b.dial(a.getMultiaddrs()[0])
const conc = Number(process.argv[2] ?? 4)
const n = 64
let next = 0
const t0 = performance.now()
const lat = []
await Promise.all(Array.from({ length: conc }, async () => {
  while (next < n) {
    const i = next++
    const s = performance.now()
    await requestBlock(b, a.peerId, { task: 'a'.repeat(64), piece: i, offset: 0, length: block.length }, AbortSignal.timeout(30000))
    lat.push(performance.now() - s)
  }
}))
const secs = (performance.now() - t0) / 1000
lat.sort((x, y) => x - y)
console.log(`conc=${conc} slice=${slice} ${mode}: ${(n * block.length / 1e6 / secs).toFixed(0)} MB/s  p50 ${lat[n >> 1].toFixed(0)}ms p90 ${lat[Math.floor(n * 0.9)].toFixed(0)}ms`)
await a.stop(); await b.stop()
