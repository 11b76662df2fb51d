import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { UpstreamUnreachableError } from '../../src/errors.js'
import { silentLogger } from '../../src/logging/logger.js'
import type { OriginClient } from '../../src/origin/origin-client.js'
import type { SwarmDownloadComponents } from '../../src/task/swarm-download.js'
import { SwarmDownload } from '../../src/task/swarm-download.js'
import { PeerScores } from '../../src/scheduling/peer-scores.js'
import { Bitmap } from '../../src/storage/bitmap.js'
import { MemoryTaskStore } from '../../src/storage/memory-task-store.js'
import type { TaskMeta } from '../../src/storage/task-meta.js'
import { Task } from '../../src/task/task.js'

const MiB = 1024 * 1024

/**
 * A holder whose every request fails at once, while it still counts as connected: what a
 * libp2p connection that is closing looks like (newStream throws ConnectionClosedError). The
 * download used to ask it again in the same turn, forever: the event loop never ran again and
 * the node grew to 4 GB (bench-crowd, 6 nodes).
 */
describe('a download whose only holder fails every request at once', () => {
  it('pauses between attempts and gives up with a clear error, instead of spinning', { timeout: 30_000 }, async () => {
    const pieces = 2
    const meta: TaskMeta = {
      version: 1,
      id: 'a'.repeat(64),
      key: 'sha256:' + 'b'.repeat(64),
      url: 'http://cdn.example/x',
      length: pieces * MiB,
      pieceSize: MiB,
      headers: {},
      bitmap: new Bitmap(pieces).toBase64(),
      digests: [null, null],
      createdAt: 0,
      lastAccessAt: 0
    }
    const task = new Task(meta)
    const file = await new MemoryTaskStore().create(task.toMeta())
    const full = new Bitmap(pieces)
    for (let index = 0; index < pieces; index++) full.set(index)
    let attempts = 0
    // A spinning download is stopped here, so that the test fails rather than never ends.
    const stop = new AbortController()
    // Fails on the next turn of the event loop, so that a spin shows as a count, not a hang.
    const swarm: SwarmDownloadComponents['swarm'] = {
      onHave: () => () => {},
      block: async () => {
        if (++attempts > 200) stop.abort()
        await new Promise(resolve => setImmediate(resolve))
        throw Object.assign(new Error('the connection is closed'), { name: 'ConnectionClosedError' })
      },
      connectedPeers: () => ['holder'],
      announceHave: () => {},
      findHolders: async () => [],
      meta: async () => undefined,
      speaks: () => true,
      peerId: 'self',
      liveSeeds: async () => []
    }
    const download = new SwarmDownload({ origin: {} as unknown as OriginClient, swarm, scores: new PeerScores(), logger: silentLogger }, {
      task,
      file,
      source: () => undefined,
      originConcurrency: 1,
      originPlan: 'none',
      backToSource: true,
      stallMs: 300,
      holders: [{ peer: 'holder', meta: { task: task.id, key: meta.key, length: task.length, pieceSize: MiB, headers: {}, bitmap: full.toBase64(), digests: [null, null], complete: true } }],
      onPiece: () => {},
      signal: stop.signal
    })
    await assert.rejects(download.run(), UpstreamUnreachableError)
    // Two pieces, tried for about 2 s (stallMs × 6) with pauses that double from 250 ms.
    assert.ok(attempts >= 2 && attempts <= 40, `${attempts} requests to a failing holder`)
  })
})
