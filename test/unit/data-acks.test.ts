import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { AbortedError } from '../../src/errors.js'
import { silentLogger } from '../../src/logging/logger.js'
import { Delivery } from '../../src/p2p/data-connection/delivery.js'
import { encodeFrame, FrameReader } from '../../src/p2p/data-connection/frames.js'
import { RecordOpener, RecordSealer, type RecordKey } from '../../src/p2p/data-connection/records.js'
import { serveConnection } from '../../src/p2p/data-connection/serve-connection.js'
import type { LocalTasks } from '../../src/p2p/local-tasks.js'
import { pieceResponse } from '../../src/p2p/messages.js'
import { UploadQueue } from '../../src/p2p/upload-queue.js'
import { ProtocolError } from '../../src/p2p/wire.js'
import { waitFor } from '../helpers/wait.js'

const MiB = 1024 * 1024

describe('delivery: what a downloader acked against what was sent', () => {
  it('waits until all but the tail is acked', async () => {
    const delivery = new Delivery()
    delivery.wrote(3 * MiB)
    let done = false
    const waiting = delivery.nearlyDelivered(MiB, 60_000, new AbortController().signal).then(() => { done = true })
    delivery.ack(MiB)
    await Promise.resolve()
    assert.equal(done, false, 'a third acked is not enough')
    delivery.ack(2 * MiB)
    await waiting
    assert.equal(delivery.usable, true)
    await delivery.nearlyDelivered(MiB, 60_000, new AbortController().signal)
  })

  it('refuses an ack of more than was sent, or less than was acked', () => {
    const delivery = new Delivery()
    delivery.wrote(100)
    assert.throws(() => { delivery.ack(101) }, ProtocolError)
    delivery.ack(60)
    assert.throws(() => { delivery.ack(59) }, ProtocolError)
  })

  it('an ack later than the wait: no more waiting on this connection', async () => {
    const delivery = new Delivery()
    delivery.wrote(MiB)
    await delivery.nearlyDelivered(0, 10, new AbortController().signal)
    assert.equal(delivery.usable, false)
    delivery.wrote(MiB)
    await delivery.nearlyDelivered(0, 60_000, new AbortController().signal)
  })

  it('an abort ends the wait with AbortedError', async () => {
    const delivery = new Delivery()
    delivery.wrote(MiB)
    const controller = new AbortController()
    const waiting = delivery.nearlyDelivered(0, 60_000, controller.signal)
    controller.abort()
    await assert.rejects(waiting, AbortedError)
  })
})

describe('an uplink shared by two data connections with acks', () => {
  const servers: Server[] = []
  after(() => { for (const server of servers) server.close() })
  const key: RecordKey = { cipher: 'chacha20-poly1305' }

  const blocks = new Map<number, Buffer>()
  const tasks: LocalTasks = {
    metadata: () => undefined,
    readBlock: async (_task, _piece, offset, length) => {
      const data = randomBytes(length)
      blocks.set(offset, data)
      return { data: [data] }
    }
  }

  /** A downloader on its own connection; `acks`: whether it acks what it reads. */
  interface Downloader {
    socket: Socket
    ask: (offset: number) => void
    /** Block bytes read so far. */
    received: () => number
    /** Called at the first block byte read. */
    onFirstByte?: () => void
    block: Promise<{ offset: number, data: Buffer, at: number }>
  }

  const downloader = async (port: number, acks: boolean): Promise<Downloader> => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    await new Promise<void>(resolve => socket.once('connect', resolve))
    const sealer = new RecordSealer(key)
    let asked = -1
    let received = 0
    const chunks: Buffer[] = []
    let resolveBlock!: (block: { offset: number, data: Buffer, at: number }) => void
    const block = new Promise<{ offset: number, data: Buffer, at: number }>(resolve => { resolveBlock = resolve })
    const frames = new FrameReader({
      header: (value) => {
        const response = pieceResponse.parse(value)
        assert.ok(response.ok)
        return response.length
      },
      payload: (chunk) => {
        if (received === 0) result.onFirstByte?.()
        received += chunk.length
        chunks.push(Buffer.from(chunk))
      },
      end: () => { resolveBlock({ offset: asked, data: Buffer.concat(chunks), at: performance.now() }) }
    })
    let first = true
    const opener = new RecordOpener(key, (record) => {
      if (first) {
        first = false
        return
      }
      for (const chunk of record) frames.push(Buffer.from(chunk))
      if (acks) sealer.write(socket, [encodeFrame({ ack: received })])
    })
    socket.on('data', (chunk: Buffer) => { opener.feed(chunk) })
    const ask = (offset: number): void => {
      asked = offset
      sealer.write(socket, [encodeFrame({ task: 'a'.repeat(64), piece: 0, offset, length: MiB })])
    }
    const result: Downloader = { socket, ask, received: () => received, block }
    return result
  }

  // One turn on its way at a time, so that two downloaders show the rule (with the default of two
  // it holds for a third the same way: upload-queue.test.ts).
  it('a downloader that reads nothing holds the link until its ack is late; then the other gets its block, and both are exact', async () => {
    const uploads = new UploadQueue({ maxOnTheWay: 1 })
    const ackWaitMs = 1000
    const served: Socket[] = []
    const server = createServer((socket) => {
      socket.on('error', () => {})
      served.push(socket)
      serveConnection(socket, Buffer.alloc(0), tasks, silentLogger, { requests: key, responses: key, uploads, acks: true, ackWaitMs })
    })
    servers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const stalled = await downloader(port, true)
    const other = await downloader(port, true)
    // The first downloader asks and reads nothing: its 1 MiB fits the kernel's buffers, so
    // without acks the link would be free for the next block at once; with acks, another
    // connection's block waits until the first has (nearly) arrived, or its ack is late.
    stalled.socket.pause()
    stalled.ask(0)
    await waitFor('the stalled downloader\'s block to leave the holder\'s process', () => (served[0]?.bytesWritten ?? 0) >= MiB)
    const asked = performance.now()
    other.ask(MiB)
    const { data, offset, at } = await other.block
    assert.ok(at - asked >= ackWaitMs * 0.9, `the other block came ${Math.round(at - asked)} ms after it was asked, while the first was unacked`)
    assert.ok(data.equals(blocks.get(offset)!))
    stalled.socket.resume()
    const first = await stalled.block
    assert.ok(first.data.equals(blocks.get(0)!))
    stalled.socket.destroy()
    other.socket.destroy()
  })

  it('a downloader that acks: the next block starts only once most of the first has arrived', async () => {
    const uploads = new UploadQueue({ maxOnTheWay: 1 })
    const server = createServer((socket) => {
      socket.on('error', () => {})
      serveConnection(socket, Buffer.alloc(0), tasks, silentLogger, { requests: key, responses: key, uploads, acks: true })
    })
    servers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const first = await downloader(port, true)
    const second = await downloader(port, true)
    // Each notes how much the other had received when its own first byte came.
    const seenAtStart = { first: -1, second: -1 }
    first.onFirstByte = () => { seenAtStart.first = second.received() }
    second.onFirstByte = () => { seenAtStart.second = first.received() }
    first.ask(2 * MiB)
    second.ask(3 * MiB)
    const [a, b] = await Promise.all([first.block, second.block])
    assert.ok(a.data.equals(blocks.get(2 * MiB)!) && b.data.equals(blocks.get(3 * MiB)!))
    const later = Math.max(seenAtStart.first, seenAtStart.second)
    assert.ok(later >= MiB - 256 * 1024, `the later block began when the earlier one had ${later} of ${MiB} bytes`)
    first.socket.destroy()
    second.socket.destroy()
  })
})
