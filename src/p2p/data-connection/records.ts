import { createCipheriv, createDecipheriv, type CipherGCMTypes, type DecipherGCM } from 'node:crypto'
import type { Socket } from 'node:net'
import { DataConnectionError } from '../../errors.js'
import type { SlabHolds } from './read-buffers.js'
import type { Slab } from './slab-pool.js'

/**
 * Records on a data connection, one direction each:
 * `length (4, big-endian) ‖ body (length bytes) ‖ tag (16, encrypted only)`.
 * Encrypted, the body is AEAD ciphertext under the direction's key with the header as AAD and
 * the implicit nonce `0 (4) ‖ record counter (8)`: a dropped, repeated, reordered or altered
 * record fails its tag. Plain, the same framing without the tag (block digests still verify).
 */
export type RecordCipher = 'chacha20-poly1305' | 'aes-256-gcm'

/** ChaCha20-Poly1305 and AES-256-GCM measured alike here (docs/p2p-throughput.md); either works. */
export const defaultCipher: RecordCipher = 'chacha20-poly1305'
export const maxRecordBytes = 1024 * 1024
/**
 * `update()` in slices of this: each call's output is a buffer of the slice's size, and one of
 * glibc's mmap threshold or more is mapped, faulted in and unmapped. The node runs with that
 * threshold at 128 KiB (src/cli/process-tuning.ts), where decrypting in 256 KiB slices cost
 * 2.8 CPU s/GiB (1.9 of it in the kernel) and in 64 KiB slices 0.77 (load average ~10,
 * relative figures; 127 KiB 0.73, 128 KiB 2.8). 64 KiB keeps well below it.
 */
export const cipherSliceBytes = 64 * 1024
const headerBytes = 4
const tagBytes = 16

/** How a direction's records are protected: a key, or none (plain). */
export interface RecordKey {
  key?: Buffer
  cipher: RecordCipher
}

function nonce (counter: bigint): Buffer {
  const bytes = Buffer.alloc(12)
  bytes.writeBigUInt64BE(counter, 4)
  return bytes
}

/** Seals records onto a socket. */
export class RecordSealer {
  private counter = 0n
  private readonly protection: RecordKey

  constructor (protection: RecordKey) {
    this.protection = protection
  }

  /**
   * Writes one record made of `parts` (≤ maxRecordBytes in all). False: the socket wants a drain.
   * `written` is called once the memory of `parts` is no longer used: sealed, right away (the
   * record went out as ciphertext of its own); plain, when the socket's write of the last part
   * called back, `ok` false when that write failed (the parts were written without a copy).
   */
  write (socket: Socket, parts: readonly Uint8Array[], written?: (ok: boolean) => void): boolean {
    const length = parts.reduce((sum, part) => sum + part.byteLength, 0)
    if (length > maxRecordBytes) throw new RangeError(`a record holds at most ${maxRecordBytes} bytes, got ${length}`)
    const header = Buffer.allocUnsafe(headerBytes)
    header.writeUInt32BE(length, 0)
    socket.cork()
    try {
      socket.write(header)
      const { key, cipher } = this.protection
      if (key === undefined) {
        const last = parts.findLastIndex(part => part.byteLength > 0)
        parts.forEach((part, index) => {
          if (index === last && written !== undefined) socket.write(part, (error) => { written(error === undefined || error === null) })
          else if (part.byteLength > 0) socket.write(part)
        })
        if (last < 0) written?.(true)
      } else {
        const sealer = createCipheriv(cipher as CipherGCMTypes, key, nonce(this.counter++), { authTagLength: tagBytes })
        sealer.setAAD(header)
        for (const part of parts) {
          for (let offset = 0; offset < part.byteLength; offset += cipherSliceBytes) {
            socket.write(sealer.update(part.subarray(offset, offset + cipherSliceBytes)))
          }
        }
        sealer.final()
        socket.write(sealer.getAuthTag())
        written?.(true)
      }
    } finally {
      socket.uncork()
    }
    return !socket.writableNeedDrain
  }
}

/**
 * Opens records as their bytes arrive, in whatever pieces the reads cut them. Encrypted, each
 * slice is decrypted straight from the read buffer (which may then be reused) and the plaintext
 * is handed on only once the record's tag verified. Plain, the body is handed on as views of
 * the buffers it arrived in, so those must not be reused: with `holds`, the opener holds the
 * slab of each view it keeps across reads, and lets go once `onRecord` returned (a consumer
 * keeping views longer takes its own holds in `onRecord`).
 */
export class RecordOpener {
  private counter = 0n
  private readonly protection: RecordKey
  private readonly onRecord: (chunks: Buffer[]) => void
  private readonly header = Buffer.alloc(headerBytes)
  private headerHave = 0
  private readonly tag = Buffer.alloc(tagBytes)
  private tagHave = 0
  private state: 'header' | 'body' | 'tag' = 'header'
  private bodyLeft = 0
  private decipher?: DecipherGCM
  private chunks: Buffer[] = []
  private readonly holds?: SlabHolds
  /** Slabs under `chunks` (plain, with `holds`). */
  private held: Slab[] = []

  constructor (protection: RecordKey, onRecord: (chunks: Buffer[]) => void, holds?: SlabHolds) {
    this.protection = protection
    this.onRecord = onRecord
    this.holds = holds
  }

  get encrypted (): boolean {
    return this.protection.key !== undefined
  }

  /** Takes `bytes` read from the socket; throws DataConnectionError on a record that breaks. */
  feed (bytes: Buffer): void {
    let position = 0
    while (position < bytes.length) {
      if (this.state === 'header') {
        const take = Math.min(headerBytes - this.headerHave, bytes.length - position)
        bytes.copy(this.header, this.headerHave, position, position + take)
        this.headerHave += take
        position += take
        if (this.headerHave === headerBytes) this.startRecord()
      } else if (this.state === 'body') {
        const take = Math.min(this.bodyLeft, bytes.length - position)
        const body = bytes.subarray(position, position + take)
        position += take
        this.bodyLeft -= take
        if (this.decipher === undefined) {
          const slab = this.holds?.hold(body)
          if (slab !== undefined) this.held.push(slab)
          this.chunks.push(body)
        } else {
          for (let offset = 0; offset < body.length; offset += cipherSliceBytes) this.chunks.push(this.decipher.update(body.subarray(offset, offset + cipherSliceBytes)))
        }
        if (this.bodyLeft === 0) this.endBody()
      } else {
        const take = Math.min(tagBytes - this.tagHave, bytes.length - position)
        bytes.copy(this.tag, this.tagHave, position, position + take)
        this.tagHave += take
        position += take
        if (this.tagHave === tagBytes) this.verify()
      }
    }
  }

  private startRecord (): void {
    this.headerHave = 0
    const length = this.header.readUInt32BE(0)
    if (length > maxRecordBytes) throw new DataConnectionError(`a record of ${length} bytes is over the ${maxRecordBytes}-byte limit`)
    const { key, cipher } = this.protection
    if (key !== undefined) {
      this.decipher = createDecipheriv(cipher as CipherGCMTypes, key, nonce(this.counter++), { authTagLength: tagBytes })
      this.decipher.setAAD(this.header)
    }
    this.bodyLeft = length
    this.state = 'body'
    if (length === 0) this.endBody()
  }

  private endBody (): void {
    if (this.decipher === undefined) {
      this.emit()
      return
    }
    this.state = 'tag'
  }

  private verify (): void {
    this.tagHave = 0
    const decipher = this.decipher!
    this.decipher = undefined
    decipher.setAuthTag(this.tag)
    try {
      decipher.final()
    } catch (error) {
      throw new DataConnectionError('a record failed its authentication tag', { cause: error })
    }
    this.emit()
  }

  private emit (): void {
    const chunks = this.chunks
    const held = this.held
    this.chunks = []
    this.held = []
    this.state = 'header'
    try {
      this.onRecord(chunks)
    } finally {
      for (const slab of held) this.holds!.release(slab)
    }
  }
}
