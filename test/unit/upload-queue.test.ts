import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AbortedError } from '../../src/errors.js'
import { UploadQueue } from '../../src/p2p/upload-queue.js'

const MiB = 1024 * 1024

describe('the uplink queue (UploadQueue)', () => {
  it('sends one block at a time, first asked first served, and hands the link straight to the next', async () => {
    const queue = new UploadQueue({ maxBooked: 8 })
    const order: string[] = []
    let sending = 1
    for (const name of ['a', 'b', 'c']) assert.deepEqual(queue.admit(MiB), { admit: true })
    const first = await queue.turn(MiB, AbortSignal.timeout(5000))
    const waiting = ['b', 'c'].map(async (name) => {
      const release = await queue.turn(MiB, AbortSignal.timeout(5000))
      order.push(`${name} starts`)
      // The link is this turn's alone: nobody else may be sending now.
      assert.equal(++sending, 1)
      await new Promise(resolve => setImmediate(resolve))
      order.push(`${name} ends`)
      sending--
      release()
    })
    // A request arriving once `a` is done must queue behind b and c, not slip in between.
    order.push('a ends')
    sending--
    first()
    assert.deepEqual(queue.admit(MiB), { admit: true })
    const late = (async () => {
      const release = await queue.turn(MiB, AbortSignal.timeout(5000))
      order.push('d starts')
      release()
    })()
    await Promise.all([...waiting, late])
    assert.deepEqual(order, ['a ends', 'b starts', 'b ends', 'c starts', 'c ends', 'd starts'])
    assert.equal(queue.booked, 0)
  })

  it('refuses a new piece while two are booked, and takes one again once a turn ends', async () => {
    let now = 0
    const queue = new UploadQueue({ now: () => now })
    assert.deepEqual(queue.admit(4 * MiB), { admit: true })
    assert.deepEqual(queue.admit(4 * MiB), { admit: true })
    const refused = queue.admit(4 * MiB)
    assert.equal(refused.admit, false)
    // Before any turn the rate is unknown: a short retry.
    assert.equal(!refused.admit && refused.retryAfterMs, 100)
    // The rest of a piece already started is never refused.
    assert.deepEqual(queue.book(MiB), { admit: true })
    queue.cancel(MiB)
    const release = await queue.turn(4 * MiB, AbortSignal.timeout(5000))
    now += 800
    release()
    assert.equal(queue.booked, 1)
    // 4 MiB in 800 ms: about 5 MB/s seen.
    assert.ok(Math.abs(queue.bytesPerMs()! - 4 * MiB / 800) < 1)
    assert.deepEqual(queue.admit(4 * MiB), { admit: true })
    const again = queue.admit(4 * MiB)
    // Two booked at 4 MiB each: one piece's time at the rate seen, 800 ms.
    assert.equal(!again.admit && again.retryAfterMs, 800)
  })

  it('books one copy of a piece at a time: a second asker is refused until the first copy was sent or given up', async () => {
    const queue = new UploadQueue({ maxBooked: 8 })
    assert.deepEqual(queue.admit(MiB, 'task:0'), { admit: true })
    const twice = queue.admit(MiB, 'task:0')
    assert.equal(twice.admit, false, 'the same piece, booked for another peer already')
    assert.ok(!twice.admit && twice.retryAfterMs > 0)
    assert.deepEqual(queue.admit(MiB, 'task:1'), { admit: true }, 'another piece is taken')
    const release = await queue.turn(MiB, AbortSignal.timeout(5000), 'task:0')
    assert.equal(queue.admit(MiB, 'task:0').admit, false, 'still on the link')
    release()
    assert.deepEqual(queue.admit(MiB, 'task:0'), { admit: true }, 'sent: it may be asked for again')
    queue.cancel(MiB, 'task:0')
    assert.deepEqual(queue.admit(MiB, 'task:0'), { admit: true }, 'given up: it may be asked for again')
  })

  it('with one on its way, a turn on another connection waits until the last turn\'s bytes were delivered; one on the same connection does not', async () => {
    const queue = new UploadQueue({ maxBooked: 8, maxOnTheWay: 1 })
    for (let n = 0; n < 3; n++) queue.admit(MiB)
    let arrived!: () => void
    const delivered = new Promise<void>(resolve => { arrived = resolve })
    const first = await queue.turn(MiB, AbortSignal.timeout(5000), undefined, 'a')
    first(delivered)
    assert.equal(queue.booked, 3, 'booked until its bytes arrived, not until they left the process')
    // The same connection goes on at once: TCP keeps its blocks in order.
    const again = await queue.turn(MiB, AbortSignal.timeout(5000), undefined, 'a')
    again(delivered)
    let otherStarted = false
    const other = queue.turn(MiB, AbortSignal.timeout(5000), undefined, 'b').then((release) => {
      otherStarted = true
      return release
    })
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(otherStarted, false, 'b waits while a\'s blocks are on their way')
    arrived()
    ;(await other)()
    assert.equal(otherStarted, true)
    assert.equal(queue.booked, 0)
  })

  it('lets two connections have turns on their way at once (the default), and a third wait for the first of them', async () => {
    const queue = new UploadQueue({ maxBooked: 8 })
    for (let n = 0; n < 4; n++) queue.admit(MiB)
    const arrivals: Array<{ owner: string, arrive: () => void }> = []
    const delivered = (owner: string): Promise<void> => new Promise<void>(resolve => { arrivals.push({ owner, arrive: resolve }) })
    const started: string[] = []
    const start = async (owner: string): Promise<void> => {
      const release = await queue.turn(MiB, AbortSignal.timeout(5000), undefined, owner)
      started.push(owner)
      release(delivered(owner))
    }
    await start('a')
    await start('a')
    await start('b')
    assert.deepEqual(started, ['a', 'a', 'b'], 'two turns of a count as one connection on its way: b goes at once')
    const third = start('c')
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(started, ['a', 'a', 'b'], 'c waits while a and b have bytes on their way')
    arrivals.find(turn => turn.owner === 'b')!.arrive()
    await third
    assert.deepEqual(started, ['a', 'a', 'b', 'c'], 'c goes once b arrived')
    for (const turn of arrivals) turn.arrive()
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(queue.booked, 0)
  })

  it('sends a fresh piece\'s first copy alone: it waits for the turn on its way, and the next turn waits for it', async () => {
    const queue = new UploadQueue({ maxBooked: 8 })
    queue.markFresh('t:9')
    for (const piece of ['t:1', 't:9', 't:2']) assert.deepEqual(queue.admit(MiB, piece), { admit: true })
    const arrivals = new Map<string, () => void>()
    const started: string[] = []
    const start = async (owner: string, piece: string): Promise<void> => {
      const release = await queue.turn(MiB, AbortSignal.timeout(5000), piece, owner)
      started.push(piece)
      release(new Promise<void>(resolve => { arrivals.set(piece, resolve) }))
    }
    await start('a', 't:1')
    const fresh = start('b', 't:9')
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(started, ['t:1'], 'the fresh piece waits for t:1 to arrive')
    arrivals.get('t:1')!()
    await fresh
    const after = start('c', 't:2')
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(started, ['t:1', 't:9'], 't:2 waits while the fresh piece is on its way')
    arrivals.get('t:9')!()
    await after
    assert.deepEqual(started, ['t:1', 't:9', 't:2'])
    arrivals.get('t:2')!()
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(queue.booked, 0)
  })

  it('lets a waiter that gives up leave the line, and refuses turns once aborted', async () => {
    const queue = new UploadQueue({ maxBooked: 4 })
    queue.admit(MiB)
    queue.admit(MiB)
    queue.admit(MiB)
    const first = await queue.turn(MiB, AbortSignal.timeout(5000))
    const impatient = new AbortController()
    const leaving = queue.turn(MiB, impatient.signal)
    const staying = queue.turn(MiB, AbortSignal.timeout(5000))
    impatient.abort()
    await assert.rejects(leaving, AbortedError)
    queue.cancel(MiB)
    first()
    const second = await staying
    second()
    assert.equal(queue.booked, 0)
    await assert.rejects(queue.turn(MiB, AbortSignal.abort()), AbortedError)
  })

  it('admits a fresh piece (fetched here from the origin, never sent) beyond the booking, and sends it before the others', async () => {
    const queue = new UploadQueue()
    const order: string[] = []
    for (const piece of ['t:1', 't:2']) assert.deepEqual(queue.admit(MiB, piece), { admit: true })
    assert.equal(queue.admit(MiB, 't:3').admit, false, 'booked full: a piece the swarm has elsewhere waits')
    queue.markFresh('t:9')
    assert.deepEqual(queue.admit(MiB, 't:9'), { admit: true }, 'a fresh piece is only here: it goes in')
    const first = await queue.turn(MiB, AbortSignal.timeout(5000), 't:1', 'peer-a')
    const turns = [['t:2', 'peer-b'], ['t:9', 'peer-c']].map(async ([piece, owner]) => {
      const release = await queue.turn(MiB, AbortSignal.timeout(5000), piece, owner)
      order.push(piece!)
      release()
    })
    first()
    await Promise.all(turns)
    assert.deepEqual(order, ['t:9', 't:2'], 'the fresh piece took the link first')
    // Its first copy went out: a second one is an ordinary request again.
    for (const piece of ['t:4', 't:5']) assert.deepEqual(queue.admit(MiB, piece), { admit: true })
    assert.equal(queue.admit(MiB, 't:9').admit, false)
  })

  it('takes fresh pieces beyond the booking by `maxBooked` at most, and one copy of each at a time', () => {
    const queue = new UploadQueue()
    for (const piece of ['t:1', 't:2']) assert.deepEqual(queue.admit(MiB, piece), { admit: true })
    for (const piece of ['t:7', 't:8', 't:9']) queue.markFresh(piece)
    assert.deepEqual(queue.admit(MiB, 't:7'), { admit: true })
    assert.equal(queue.admit(MiB, 't:7').admit, false, 'the same piece for a second peer')
    assert.deepEqual(queue.admit(MiB, 't:8'), { admit: true })
    assert.equal(queue.admit(MiB, 't:9').admit, false, 'four booked: even a fresh piece waits')
    assert.equal(queue.booked, 4)
  })

  it('forgets the oldest fresh pieces past `maxFresh`', () => {
    const queue = new UploadQueue({ maxBooked: 1, maxFresh: 2 })
    assert.deepEqual(queue.admit(MiB, 't:0'), { admit: true })
    for (const piece of ['t:1', 't:2', 't:3']) queue.markFresh(piece)
    assert.equal(queue.admit(MiB, 't:1').admit, false, 't:1 was forgotten')
    assert.deepEqual(queue.admit(MiB, 't:3'), { admit: true })
  })
})
