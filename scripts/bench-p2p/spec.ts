/** Path specs of bench-p2p: presets and the `kind:key=value:...` grammar (see main.ts). */
export type Kind = 'tcp' | 'tcp-stream' | 'libp2p' | 'side' | 'node'
export type AeadCipher = 'aes-256-gcm' | 'chacha20-poly1305'

export interface PathSpec {
  name: string
  kind: Kind
  /** bytes per write / send() / record */
  write: number
  conns: number
  /** libp2p streams per connection */
  streams: number
  /** yamux maxStreamWindowSize (undefined = yamux default, 16 MiB) */
  window?: number
  /** yamux initialStreamWindowSize (undefined = yamux default, 256 KiB) */
  iwindow?: number
  crypto: 'default' | 'node' | 'js' | 'concat'
  /** connection encrypter: noise, or tls (@libp2p/tls, not a project dependency: install it first) */
  enc: 'noise' | 'tls'
  /** stream muxer: yamux, or mplex (@libp2p/mplex, not a project dependency: install it first) */
  mux: 'yamux' | 'mplex'
  nodelay: boolean
  cipher: AeadCipher
  /** receiver reads into one reused buffer (net `onread`) instead of a new Buffer per read */
  onread: boolean
  /** side kind: bytes per cipher update() call (encrypt and decrypt) */
  slice: number
  /** receive buffer size with onread */
  rbuf: number
  /** side kind: record layer, own AEAD records (aead) or TLS 1.2 with the derived key as PSK (tls) */
  rec: 'aead' | 'async' | 'tls' | 'plain'
  /** tuned: children run with GLIBC_TUNABLES that stop glibc from mmap'ing (and unmapping) every
   * buffer of 128 KiB+, see MALLOC_TUNED; node: the tunables a node is started with
   * (src/cli/process-tuning.ts); default: none */
  malloc: 'default' | 'tuned' | 'node'
  /** side kind, rec=async: records being encrypted / decrypted at once */
  depth: number
}

export const KiB = 1024
export const MiB = 1024 * KiB

/** keep buffers up to 8 MiB on the heap and do not give freed memory back at once */
export const MALLOC_TUNED = 'glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=268435456'

export const PRESETS: Record<string, string> = {
  tcp: 'tcp:write=1m',
  'tcp-64k': 'tcp:write=64k',
  'tcp-onread': 'tcp:write=1m:onread=true',
  'tcp-stream-64k': 'tcp-stream:write=64k',
  'tcp-stream-1m': 'tcp-stream:write=1m',
  'libp2p-stock': 'libp2p:write=64k',
  'libp2p-4streams': 'libp2p:write=64k:streams=4',
  // best found on the 2-core loopback machine, see docs/p2p-throughput.md
  'libp2p-best': 'libp2p:write=1m:iwindow=16m',
  'side-aes': 'side:write=1m:cipher=aes-256-gcm',
  'side-chacha': 'side:write=1m:cipher=chacha20-poly1305',
  'side-chacha-tuned': 'side:write=1m:cipher=chacha20-poly1305:malloc=tuned',
  'side-plain-tuned': 'side:write=1m:rec=plain:malloc=tuned',
  'tcp-tuned': 'tcp:write=1m:malloc=tuned',
  'libp2p-best-tuned': 'libp2p:write=1m:iwindow=16m:malloc=tuned',
  'side-async': 'side:write=1m:rec=async',
  'side-tls-psk': 'side:write=1m:rec=tls:cipher=aes-256-gcm',
  // the real path: a peer node fills a task from a seed node over the data connection
  // (as the image and `npm start` run a node; `node:malloc=tuned` for the raw paths' tunables)
  'node-encrypted': 'node:malloc=node',
  'node-plain': 'node:rec=plain:malloc=node'
}
export const DEFAULT_PATHS = ['tcp', 'tcp-onread', 'libp2p-stock', 'libp2p-best', 'side-chacha', 'side-chacha-tuned', 'side-plain-tuned', 'node-encrypted', 'node-plain']

export function parseSize (text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(text.trim())
  if (m == null) throw new Error(`bad size: ${text}`)
  const n = Number(m[1])
  const unit = (m[2] ?? 'b').toLowerCase()
  const mult: Record<string, number> = {
    b: 1, k: KiB, kb: 1e3, ki: KiB, kib: KiB, m: MiB, mb: 1e6, mi: MiB, mib: MiB, g: 1024 * MiB, gb: 1e9, gi: 1024 * MiB, gib: 1024 * MiB
  }
  const f = mult[unit]
  if (f === undefined) throw new Error(`bad size unit: ${text}`)
  return Math.round(n * f)
}

export function parseSpec (text: string): PathSpec {
  const preset = PRESETS[text]
  const [kind, ...pairs] = (preset ?? text).split(':')
  if (kind !== 'tcp' && kind !== 'tcp-stream' && kind !== 'libp2p' && kind !== 'side' && kind !== 'node') {
    throw new Error(`unknown path "${text}" (presets: ${Object.keys(PRESETS).join(', ')})`)
  }
  const spec: PathSpec = { name: text, kind, write: 64 * KiB, conns: 1, streams: 1, crypto: 'default', enc: 'noise', mux: 'yamux', nodelay: true, cipher: 'aes-256-gcm', rec: 'aead', onread: kind === 'side', slice: 256 * KiB, rbuf: 1 * MiB, depth: 4, malloc: 'default' }
  for (const pair of pairs) {
    const [key, value = ''] = pair.split('=')
    switch (key) {
      case 'write': spec.write = parseSize(value); break
      case 'conns': spec.conns = Number(value); break
      case 'streams': spec.streams = Number(value); break
      case 'window': spec.window = parseSize(value); break
      case 'iwindow': spec.iwindow = parseSize(value); break
      case 'nodelay': spec.nodelay = value !== 'false'; break
      case 'crypto':
        if (value !== 'default' && value !== 'node' && value !== 'js' && value !== 'concat') throw new Error(`bad crypto: ${value}`)
        spec.crypto = value
        break
      case 'enc':
        if (value !== 'noise' && value !== 'tls') throw new Error(`bad enc: ${value}`)
        spec.enc = value
        break
      case 'mux':
        if (value !== 'yamux' && value !== 'mplex') throw new Error(`bad mux: ${value}`)
        spec.mux = value
        break
      case 'onread': spec.onread = value !== 'false'; break
      case 'slice': spec.slice = parseSize(value); break
      case 'depth': spec.depth = Number(value); break
      case 'malloc':
        if (value !== 'default' && value !== 'tuned' && value !== 'node') throw new Error(`bad malloc: ${value}`)
        spec.malloc = value
        break
      case 'rbuf': spec.rbuf = parseSize(value); break
      case 'rec':
        if (value !== 'aead' && value !== 'async' && value !== 'tls' && value !== 'plain') throw new Error(`bad rec: ${value}`)
        spec.rec = value
        break
      case 'cipher':
        if (value !== 'aes-256-gcm' && value !== 'chacha20-poly1305') throw new Error(`bad cipher: ${value}`)
        spec.cipher = value
        break
      default: throw new Error(`unknown key "${key ?? ''}" in path "${text}"`)
    }
  }
  if (!(spec.conns >= 1 && spec.streams >= 1 && spec.write >= 1 && spec.depth >= 1)) throw new Error(`bad path: ${text}`)
  if (spec.kind === 'node' && spec.rec !== 'aead' && spec.rec !== 'plain') throw new Error('the node kind has rec=aead (encrypted) or rec=plain only')
  if (spec.rec === 'async' && spec.cipher !== 'aes-256-gcm') throw new Error('rec=async is AES-256-GCM only (WebCrypto has no ChaCha20-Poly1305 on Node 20)')
  return spec
}
