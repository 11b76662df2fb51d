/** The two child processes of a bench-p2p run: the receiver (downloader) and the sender (uploader). */
import { hr, makeHasher, makePayload, Meter, peakRssMB, report, Sink, startProfiler, type Target } from './child.js'
import type { Transport } from './kinds.js'
import { libp2pTransport } from './libp2p.js'
import { sideTransport } from './side.js'
import type { Kind, PathSpec } from './spec.js'
import { tcpTransport } from './tcp.js'

/** The transports that run as a sender and a receiver process (`node` runs whole nodes instead). */
const transports: Record<Exclude<Kind, 'node'>, Transport> = {
  tcp: tcpTransport,
  'tcp-stream': tcpTransport,
  libp2p: libp2pTransport,
  side: sideTransport
}

function transportOf (spec: PathSpec): Transport {
  if (spec.kind === 'node') throw new Error('the node kind has no sender and receiver processes')
  return transports[spec.kind]
}

export async function runReceiver (spec: PathSpec, size: number, target: Target, verify: boolean, profFile: string | undefined): Promise<void> {
  const sink = new Sink(size, verify)
  if (process.env.BENCH_DEBUG !== undefined) {
    setInterval(() => { process.stderr.write(`receiver: ${sink.received} bytes\n`) }, 1000).unref()
  }
  const fail = (err: unknown): void => { sink.done.reject(err) }
  const setup = await transportOf(spec).receive({ spec, size, target, verify, sink, fail })
  const stopProfiler = await startProfiler(profFile)
  report({ type: 'ready', target: setup.target })

  await sink.done.promise
  const usage = sink.meter?.finish()
  await stopProfiler()
  report({ type: 'done', received: sink.received, tFirst: sink.tFirst, tEnd: sink.tEnd, cpu: usage, peakRssMB: peakRssMB() })
  // give the per-stream digests a moment to land (they are pushed when each stream ends)
  if (verify) {
    const until = Date.now() + 5000
    while (sink.digests.length < spec.conns * (spec.kind === 'libp2p' ? spec.streams : 1) && Date.now() < until) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    report({ type: 'digests', digests: sink.digests })
  }
  await Promise.race([setup.close(), new Promise(resolve => setTimeout(resolve, 2000))])
}

export async function runSender (spec: PathSpec, size: number, target: Target, verify: boolean, profFile: string | undefined): Promise<void> {
  const digests: string[] = []
  let meter: Meter | undefined
  let t0 = 0n
  let stopProfiler: () => Promise<void> = async () => {}
  const done = await transportOf(spec).send({
    spec,
    size,
    target,
    verify,
    payload: makePayload(spec.write),
    digests,
    makeHasher: () => makeHasher(verify),
    ready: (where) => { report({ type: 'ready', target: where }) },
    start: async () => {
      stopProfiler = await startProfiler(profFile)
      t0 = hr()
      meter = new Meter()
      report({ type: 'start', t0 })
    }
  })
  const usage = meter?.finish()
  await stopProfiler()
  report({ type: 'done', t0, cpu: usage, peakRssMB: peakRssMB(), digests: verify ? digests : undefined })
  // stream.close() resolves once the bytes are queued, not delivered: stopping the node now could
  // drop the tail of the transfer. Wait until the receiver, having counted everything, hangs up.
  await done.waitClosed()
  await Promise.race([done.close(), new Promise(resolve => setTimeout(resolve, 2000))])
}
