import { createCipheriv, createDecipheriv, hkdfSync, webcrypto } from 'node:crypto'
import type { CipherGCM, CipherGCMTypes, DecipherGCM } from 'node:crypto'
import { once } from 'node:events'
import type net from 'node:net'
import type { Hasher } from './child.js'
import { MiB, type AeadCipher } from './spec.js'

export const SID_LEN = 16
export const TAG_LEN = 16
export const FINAL_FLAG = 0x80000000


export function deriveKey (senderRandom: Uint8Array, receiverRandom: Uint8Array, sid: Uint8Array, senderPeer: string, receiverPeer: string): Buffer {
  const info = Buffer.from(`damselfly-data/1 ${senderPeer}>${receiverPeer} sender-to-receiver`)
  return Buffer.from(hkdfSync('sha256', Buffer.concat([senderRandom, receiverRandom]), sid, info, 32))
}

export function nonceFor (seq: bigint): Buffer {
  const n = Buffer.alloc(12)
  n.writeBigUInt64BE(seq, 4)
  return n
}

export class RecordReader {
  private state: 'header' | 'body' | 'tag' | 'closed' = 'header'
  private readonly small = Buffer.alloc(TAG_LEN)
  private smallLen = 0
  private decipher: DecipherGCM | undefined
  private bodyLeft = 0
  private final = false
  private seq = 0n
  private pending: Buffer[] = []
  constructor (
    private readonly cipher: AeadCipher,
    private readonly key: Buffer,
    private readonly deliver: (plaintext: Buffer) => void,
    private readonly onEnd: () => void,
    private readonly slice: number
  ) {}

  get ended (): boolean { return this.state === 'closed' }

  private fill (chunk: Buffer, off: number, need: number): number {
    const take = Math.min(need - this.smallLen, chunk.length - off)
    chunk.copy(this.small, this.smallLen, off, off + take)
    this.smallLen += take
    return take
  }

  /** `chunk` may be a reused read buffer: nothing of it is kept after push() returns */
  push (chunk: Buffer): void {
    let off = 0
    while (off < chunk.length) {
      switch (this.state) {
        case 'header': {
          off += this.fill(chunk, off, 4)
          if (this.smallLen < 4) break
          const header = Buffer.from(this.small.subarray(0, 4))
          const word = header.readUInt32BE(0)
          this.final = (word & FINAL_FLAG) !== 0
          this.bodyLeft = word & ~FINAL_FLAG
          this.decipher = createDecipheriv(this.cipher as CipherGCMTypes, this.key, nonceFor(this.seq), { authTagLength: TAG_LEN })
          this.decipher.setAAD(header)
          this.smallLen = 0
          this.state = this.bodyLeft > 0 ? 'body' : 'tag'
          break
        }
        case 'body': {
          // (at most `slice` bytes per update(): a large output buffer per call is slow, see sendRecords)
          const take = Math.min(this.bodyLeft, chunk.length - off, this.slice)
          // streaming decrypt; the plaintext is held back until the tag has been checked
          this.pending.push(this.decipher!.update(chunk.subarray(off, off + take))) // eslint-disable-line @typescript-eslint/no-non-null-assertion
          off += take
          this.bodyLeft -= take
          if (this.bodyLeft === 0) this.state = 'tag'
          break
        }
        case 'tag': {
          off += this.fill(chunk, off, TAG_LEN)
          if (this.smallLen < TAG_LEN) break
          const decipher = this.decipher
          if (decipher === undefined) throw new Error('no decipher')
          decipher.setAuthTag(Buffer.from(this.small.subarray(0, TAG_LEN)))
          const last = decipher.final() // throws if the record was forged, replayed, reordered or truncated
          if (last.length > 0) this.pending.push(last)
          for (const p of this.pending) this.deliver(p)
          this.pending = []
          this.seq++
          this.smallLen = 0
          if (this.final) {
            this.state = 'closed'
            this.onEnd()
            if (off < chunk.length) throw new Error('data after final record')
            return
          }
          this.state = 'header'
          break
        }
        case 'closed':
          throw new Error('data after final record')
      }
    }
  }
}

export type AesKey = webcrypto.CryptoKey

export async function importAesKey (key: Buffer, use: 'encrypt' | 'decrypt'): Promise<AesKey> {
  return await webcrypto.subtle.importKey('raw', key, { name: 'AES-GCM' }, false, [use])
}

export function aesParams (seq: bigint, header: Buffer): webcrypto.AesGcmParams {
  return { name: 'AES-GCM', iv: nonceFor(seq), additionalData: header, tagLength: TAG_LEN * 8 }
}

/**
 * The same record format, AES-256-GCM through WebCrypto: each encrypt/decrypt is a job on the libuv
 * thread pool, so up to `depth` records are sealed or opened off the event loop, in parallel with
 * the socket work. WebCrypto's output is ciphertext || tag, the record layout itself.
 */
export async function sendRecordsAsync (sock: net.Socket, key: AesKey, payload: Buffer, bytes: number, hasher: Hasher, depth: number): Promise<void> {
  const queue: Array<{ header: Buffer, sealed: Promise<ArrayBuffer> }> = []
  let seq = 0n
  let left = bytes
  while (left > 0 || queue.length > 0) {
    while (left > 0 && queue.length < depth) {
      const n = Math.min(payload.length, left)
      left -= n
      const header = Buffer.allocUnsafe(4)
      header.writeUInt32BE(((left === 0 ? FINAL_FLAG : 0) | n) >>> 0, 0)
      const plain = n === payload.length ? payload : payload.subarray(0, n)
      hasher.update(plain)
      queue.push({ header, sealed: webcrypto.subtle.encrypt(aesParams(seq++, header), key, plain) })
    }
    const next = queue.shift()
    if (next === undefined) break
    const sealed = Buffer.from(await next.sealed)
    sock.cork()
    sock.write(next.header)
    const ok = sock.write(sealed)
    sock.uncork()
    if (!ok && sock.writableLength > 4 * MiB) await once(sock, 'drain')
  }
  sock.end()
  await once(sock, 'finish')
}

export class AsyncRecordReader {
  private readonly header = Buffer.alloc(4)
  private headerLen = 0
  private body: Buffer | undefined
  private bodyLen = 0
  private final = false
  private seq = 0n
  private done = false
  private readonly queue: Array<{ opened: Promise<ArrayBuffer>, final: boolean }> = []
  private delivering = false
  onRoom: () => void = () => {}
  constructor (
    private readonly key: AesKey,
    private readonly depth: number,
    private readonly deliver: (plaintext: Buffer) => void,
    private readonly onEnd: () => void,
    private readonly fail: (err: unknown) => void
  ) {}

  get ended (): boolean { return this.done }

  /** returns false when `depth` records are being decrypted: the caller pauses the socket */
  push (chunk: Buffer): boolean {
    let off = 0
    while (off < chunk.length) {
      if (this.done) throw new Error('data after final record')
      if (this.body === undefined) {
        const take = Math.min(4 - this.headerLen, chunk.length - off)
        chunk.copy(this.header, this.headerLen, off, off + take)
        this.headerLen += take
        off += take
        if (this.headerLen < 4) break
        const word = this.header.readUInt32BE(0)
        this.final = (word & FINAL_FLAG) !== 0
        this.body = Buffer.allocUnsafe((word & ~FINAL_FLAG) + TAG_LEN)
        this.bodyLen = 0
        continue
      }
      // one copy into the record buffer: WebCrypto needs the whole record at once
      const take = Math.min(this.body.length - this.bodyLen, chunk.length - off)
      chunk.copy(this.body, this.bodyLen, off, off + take)
      this.bodyLen += take
      off += take
      if (this.bodyLen < this.body.length) break
      const header = Buffer.from(this.header)
      this.queue.push({ opened: webcrypto.subtle.decrypt(aesParams(this.seq++, header), this.key, this.body), final: this.final })
      if (this.final) this.done = true
      this.body = undefined
      this.headerLen = 0
      void this.drain()
    }
    return this.queue.length < this.depth
  }

  private async drain (): Promise<void> {
    if (this.delivering) return
    this.delivering = true
    try {
      while (this.queue.length > 0) {
        const next = this.queue[0]
        if (next === undefined) break
        // rejects (OperationError) if a record was forged, replayed, reordered or truncated
        const plain = Buffer.from(await next.opened)
        this.queue.shift()
        this.deliver(plain)
        if (next.final) this.onEnd()
        if (this.queue.length === this.depth - 1) this.onRoom()
      }
    } catch (err) {
      this.fail(err)
    } finally {
      this.delivering = false
    }
  }
}

export function tlsPskCiphers (cipher: AeadCipher): string {
  return cipher === 'aes-256-gcm' ? 'PSK-AES256-GCM-SHA384' : 'ECDHE-PSK-CHACHA20-POLY1305'
}

export async function sendRecords (sock: net.Socket, key: Buffer, cipher: AeadCipher, payload: Buffer, bytes: number, hasher: Hasher, slice: number): Promise<void> {
  let seq = 0n
  let left = bytes
  while (left > 0) {
    const n = Math.min(payload.length, left)
    left -= n
    const header = Buffer.allocUnsafe(4)
    header.writeUInt32BE(((left === 0 ? FINAL_FLAG : 0) | n) >>> 0, 0)
    const c: CipherGCM = createCipheriv(cipher as CipherGCMTypes, key, nonceFor(seq++), { authTagLength: TAG_LEN })
    c.setAAD(header)
    const plain = n === payload.length ? payload : payload.subarray(0, n)
    hasher.update(plain)
    // update() in slices (256 KiB): one update() over 1 MiB ran 2-4x slower here (each call
    // allocates its output; 1 MiB outputs are fresh mmap'd pages), see docs/p2p-throughput.md
    const body: Buffer[] = []
    for (let o = 0; o < n; o += slice) body.push(c.update(plain.subarray(o, Math.min(n, o + slice))))
    c.final()
    sock.cork()
    sock.write(header)
    for (const b of body) sock.write(b)
    const ok = sock.write(c.getAuthTag())
    sock.uncork()
    if (!ok && sock.writableLength > 4 * MiB) await once(sock, 'drain')
  }
  sock.end()
  await once(sock, 'finish')
}
