import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { silentLogger } from '../../src/logging/logger.js'
import { encodeFrame, FrameReader } from '../../src/p2p/data-connection/frames.js'
import { RecordOpener, RecordSealer, type RecordKey } from '../../src/p2p/data-connection/records.js'
import { serveConnection } from '../../src/p2p/data-connection/serve-connection.js'
import type { LocalTasks } from '../../src/p2p/local-tasks.js'
import { pieceResponse } from '../../src/p2p/messages.js'
import { waitFor } from '../helpers/wait.js'

const MiB = 1024 * 1024
const plain: RecordKey = { cipher: 'chacha20-poly1305' }
const encrypted = (): RecordKey => ({ cipher: 'chacha20-poly1305', key: randomBytes(32) })

/**
 * A holder whose blocks behave as pooled memory: the moment a block is released as reusable its
 * buffer is overwritten, as the next read into it would. Released too early (before the socket
 * wrote it), the downloader receives the overwritten bytes.
 */
function pooledTasks (blockBytes: number): { tasks: LocalTasks, sent: Map<number, Buffer>, released: boolean[] } {
  // `sent`: every block read, by offset; `released`: how each release went, in order.
  const sent = new Map<number, Buffer>()
  const released: boolean[] = []
  const tasks: LocalTasks = {
    metadata: () => undefined,
    readBlock: async (_task, _piece, offset) => {
      const data = randomBytes(blockBytes)
      sent.set(offset, Buffer.from(data))
      let done = false
      return {
        data: [data.subarray(0, blockBytes / 2), data.subarray(blockBytes / 2)],
        release: (reusable) => {
          assert.equal(done, false, 'released once')
          done = true
          released.push(reusable)
          if (reusable) data.fill(0xaa)
        }
      }
    }
  }
  return { tasks, sent, released }
}

describe('a data connection serving pooled blocks', () => {
  const servers: Server[] = []
  after(() => { for (const server of servers) server.close() })

  const serve = async (tasks: LocalTasks, keys: { requests: RecordKey, responses: RecordKey }): Promise<{ client: Socket, served: Promise<Socket> }> => {
    let accepted!: (socket: Socket) => void
    const served = new Promise<Socket>(resolve => { accepted = resolve })
    const server = createServer((socket) => {
      socket.on('error', () => {})
      serveConnection(socket, Buffer.alloc(0), tasks, silentLogger, keys)
      accepted(socket)
    })
    servers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
    client.on('error', () => {})
    await new Promise<void>(resolve => client.once('connect', resolve))
    return { client, served }
  }

  /** Reads every answer off `client`: the payload bytes of each ok header, in order. */
  const answers = (client: Socket, responses: RecordKey, count: number): Promise<Buffer[]> => {
    const blocks: Buffer[] = []
    let current: Buffer[] = []
    return new Promise((resolve, reject) => {
      const frames = new FrameReader({
        header: (value) => {
          const response = pieceResponse.parse(value)
          assert.ok(response.ok)
          return response.length
        },
        payload: (chunk) => { current.push(Buffer.from(chunk)) },
        end: () => {
          blocks.push(Buffer.concat(current))
          current = []
          if (blocks.length === count) resolve(blocks)
        }
      })
      let first = true
      const opener = new RecordOpener(responses, (chunks) => {
        // The first record (empty) proves the key; answers follow.
        if (first) {
          first = false
          return
        }
        for (const chunk of chunks) frames.push(Buffer.from(chunk))
      })
      client.on('data', (chunk: Buffer) => {
        try {
          opener.feed(chunk)
        } catch (error) {
          reject(error)
        }
      })
    })
  }

  for (const [name, keys] of [['plain', { requests: plain, responses: plain }], ['encrypted', { requests: encrypted(), responses: encrypted() }]] as const) {
    it(`${name}: a block goes back only once the socket wrote it, so a downloader that reads late still gets exact bytes`, async () => {
      const blockBytes = 4 * MiB
      const requests = 12
      const { tasks, sent, released } = pooledTasks(blockBytes)
      const { client, served } = await serve(tasks, keys)
      const sealer = new RecordSealer(keys.requests)
      for (let index = 0; index < requests; index++) sealer.write(client, [encodeFrame({ task: 'a'.repeat(64), piece: 0, offset: index * blockBytes, length: blockBytes })])
      // The downloader reads nothing yet: the server fills the kernel's buffers, then its own
      // write queue, and waits for a drain with blocks queued in the process.
      const socket = await served
      await waitFor('blocks queued in the server process', () => socket.writableLength > 4 * MiB)
      const got = answers(client, keys.responses, requests)
      const blocks = await got
      blocks.forEach((block, index) => { assert.ok(block.equals(sent.get(index * blockBytes)!), `block ${index} arrived exact`) })
      await waitFor('every block released', () => released.length === requests)
      assert.ok(released.every(reusable => reusable), 'every block written whole goes back for reuse')
      client.destroy()
    })
  }

  it('every block read is given back when the connection closes: read ahead and unsent, reusable; cut mid-send, never reused', async () => {
    const blockBytes = 4 * MiB
    const { tasks, sent, released } = pooledTasks(blockBytes)
    const { client, served } = await serve(tasks, { requests: plain, responses: plain })
    const sealer = new RecordSealer(plain)
    for (let index = 0; index < 12; index++) sealer.write(client, [encodeFrame({ task: 'a'.repeat(64), piece: 0, offset: index * blockBytes, length: blockBytes })])
    const socket = await served
    await waitFor('blocks queued in the server process', () => socket.writableLength > 4 * MiB)
    client.destroy()
    await waitFor('the server let go of every block it read', () => socket.destroyed && released.length === sent.size)
    assert.ok(released.includes(false), 'a block whose write failed is never reused')
  })
})
