import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { silentLogger } from '../../src/logging/logger.js'
import { serveTask } from '../../src/proxy/serve-task.js'
import { PeerScores } from '../../src/scheduling/peer-scores.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import { TaskManager } from '../../src/task/task-manager.js'
import type { Task } from '../../src/task/task.js'
import { contentOf, fakeOrigin, fakeSwarm, keyOf } from '../helpers/task-fakes.js'

const KiB = 1024
const pieceSize = 128 * KiB
const content = contentOf(4 * pieceSize + 99)
const key = keyOf(content)
const source = { url: 'http://origin.invalid/f', headers: {} }

/** One GET against `server`: status and body. */
async function get (server: Server): Promise<{ status: number, body: Buffer }> {
  const { port } = server.address() as AddressInfo
  return await new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port }, response => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }) })
      response.on('error', reject)
    }).on('error', reject).end()
  })
}

/**
 * A request that found its task complete, and the piece it reads dropped as rotten before its
 * answer began (the start-up migration of a 0.1.0 cache runs beside the first requests): no
 * download runs for the task any more, so the answer starts one and follows it.
 */
describe('a complete task that loses a piece while a request for it is being answered', () => {
  for (const when of ['before the answer began', 'after its headers were written'] as const) {
    it(`${when}: the piece is refetched and the right bytes served, the request not failed`, async () => {
      await servesDroppedPiece(when)
    })
  }
})

async function servesDroppedPiece (when: 'before the answer began' | 'after its headers were written'): Promise<void> {
  {
    const store = new MemoryTaskStore()
    const origin = fakeOrigin(content)
    const tasks = new TaskManager({ store, origin, logger: silentLogger, swarm: fakeSwarm(), scores: new PeerScores() }, { pieceSize, concurrency: 2 })
    await tasks.start()
    const signal = AbortSignal.timeout(20_000)
    const first = await tasks.acquire({ key, source }, signal)
    await first.task.whenVerified(signal)
    const acquired = await tasks.acquire({ key, source }, signal)
    assert.equal(acquired.hit, true)
    // What Quarantine.dropRotten does to a piece that failed its check, with no download running.
    const drop = (task: Task): void => {
      task.invalidatePiece(2)
      assert.equal(task.status, 'paused')
    }
    if (when === 'before the answer began') drop(acquired.task)
    const servedBefore = origin.bytesServed
    const server = createServer((_request, response) => {
      void serveTask(response, {
        task: acquired.task,
        // The answer opens the data right after writing its headers: the other window.
        bytes: {
          open: async (task) => {
            if (when === 'after its headers were written') drop(task)
            return await tasks.open(task)
          },
          verifierOf: task => tasks.verifierOf(task)
        },
        range: { kind: 'from', start: 2 * pieceSize + 10, end: 2 * pieceSize + 20 },
        hit: acquired.hit,
        resume: async (): Promise<Task> => (await tasks.acquire({ key, source }, signal)).task,
        signal
      }).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(502)
        response.end(String(error))
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const answer = await get(server)
      assert.equal(answer.status, 206, answer.body.toString())
      assert.deepEqual(answer.body, content.subarray(2 * pieceSize + 10, 2 * pieceSize + 21))
      assert.equal(origin.bytesServed - servedBefore, pieceSize, 'the dropped piece alone came from the origin again')
      await acquired.task.whenVerified(signal)
      assert.equal(acquired.task.status, 'complete')
    } finally {
      server.close()
      await tasks.stop()
    }
  }
}
