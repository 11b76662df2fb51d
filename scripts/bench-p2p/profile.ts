/** --cpu-prof: each child's V8 profile, summarised by function and by layer. */
import { readFileSync } from 'node:fs'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const LAYERS: Array<[RegExp, string]> = [
  [/libp2p-noise/, 'noise (framing + crypto glue)'],
  [/libp2p-yamux/, 'yamux'],
  [/uint8arraylist|uint8arrays/, 'Uint8ArrayList / uint8arrays'],
  [/@libp2p\/utils|it-pushable|race-signal|p-event|@libp2p\/interface|main-event|progress-events/, 'libp2p message-stream machinery'],
  [/@libp2p\/tcp/, 'libp2p tcp'],
  [/node:internal\/crypto|^crypto::/, 'node:crypto (JS side)'],
  [/node:internal\/event_target|node:events/, 'EventTarget / events'],
  [/node:net|node:internal\/stream_base_commons|node:internal\/streams|node:stream/, 'node net/streams'],
  [/^node:buffer|^node:internal\/buffer/, 'Buffer copies / allocation (node:buffer)'],
  [/\/scripts\/bench-p2p/, 'benchmark loop']
]

function layerOf (fn: string, url: string): string {
  if (fn === '(garbage collector)') return 'GC'
  if (fn === '(idle)') return 'idle'
  if (fn === '(program)') return '(program: native, unattributed)'
  if (url === '') {
    if (/^(update|final|getAuthTag|setAAD|setAuthTag|initiv|CipherBase|Cipheriv|Decipheriv)$/.test(fn)) return 'node:crypto (native)'
    if (/^(writeBuffer|writev|writeUtf8String|onStreamRead|readStart|readStop)$/.test(fn)) return 'socket syscalls (native)'
    return 'other native'
  }
  for (const [re, name] of LAYERS) if (re.test(url)) return name
  if (url.startsWith('node:')) return 'other node internals'
  return 'other js'
}

export function summarizeProfile (file: string, top = 12): { file: string, totalMs: number, layers: Array<[string, number]>, functions: Array<[string, number]> } {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  for (const n of prof.nodes) byId.set(n.id, n)
  const parentOf = new Map<number, number>()
  for (const n of prof.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
  const self = new Map<number, number>()
  prof.samples.forEach((id, i) => { self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)) })
  const nameOf = (n: ProfileNode): string => {
    const { functionName, url, lineNumber } = n.callFrame
    const short = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(scripts|src)\//, '$1/')
    return `${functionName === '' ? '(anonymous)' : functionName} ${short === '' ? '[native]' : `${short}:${lineNumber + 1}`}`
  }
  const fns = new Map<string, number>()
  const callers = new Map<string, Map<string, number>>()
  const layers = new Map<string, number>()
  let total = 0
  for (const [id, us] of self) {
    const n = byId.get(id)
    if (n === undefined) continue
    const fn = n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName
    const layer = layerOf(fn, n.callFrame.url)
    if (layer === 'idle') continue
    total += us
    const key = nameOf(n)
    fns.set(key, (fns.get(key) ?? 0) + us)
    layers.set(layer, (layers.get(layer) ?? 0) + us)
    // nearest caller outside node internals, to tell which layer asked for a copy or a cipher call
    let p = parentOf.get(id)
    while (p !== undefined && (byId.get(p)?.callFrame.url ?? '').startsWith('node:')) p = parentOf.get(p)
    const parent = p === undefined ? undefined : byId.get(p)
    if (parent !== undefined) {
      const m = callers.get(key) ?? new Map<string, number>()
      m.set(nameOf(parent), (m.get(nameOf(parent)) ?? 0) + us)
      callers.set(key, m)
    }
  }
  const pct = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Number((100 * v / total).toFixed(1))])
  const functions = pct(fns).slice(0, top).map(([k, v]): [string, number] => {
    const c = callers.get(k)
    const best = c === undefined ? undefined : [...c].sort((a, b) => b[1] - a[1])[0]
    return [best === undefined ? k : `${k}  <- ${best[0]}`, v]
  })
  return { file, totalMs: Math.round(total / 1000), layers: pct(layers), functions }
}
