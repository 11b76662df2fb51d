/**
 * One direction of a pnet connection: XOR with the XSalsa20(key, nonce) keystream, continued
 * across calls of any length. `@noble/ciphers`' `xsalsa20` starts at a block counter (64-byte
 * blocks), so whole blocks go straight through it; the part of a block a call leaves unused is
 * kept and served to the next call. Nothing is ever re-encrypted from the start and the state
 * is 64 bytes, whatever the amount of data.
 *
 * Pure: no I/O, no clocks. Pinned against noble's single-shot result in test/psk.test.ts.
 */
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import { PskKeystreamExhaustedError } from './errors.js'

const BLOCK_BYTES = 64

/**
 * noble's block counter is 32 bits and it refuses to produce block 2^32 - 1 (it never wraps),
 * so one nonce yields this many blocks: 2^32 - 1, about 256 GiB of keystream.
 */
export const MAX_KEYSTREAM_BLOCKS = 2 ** 32 - 1

const ZERO_BLOCK = new Uint8Array(BLOCK_BYTES)

export interface XSalsa20StreamInit {
  /**
   * The block the keystream starts at; a stream that resumes a position, or a test that
   * checks the limit.
   *
   * @default 0
   */
  startBlock?: number
}

export class XSalsa20Stream {
  readonly #key: Uint8Array
  readonly #nonce: Uint8Array
  /** The counter of the next block noble will generate. */
  #nextBlock: number
  /** The keystream of block `#nextBlock - 1`, of which the first `#blockUsed` bytes are spent. */
  readonly #block = new Uint8Array(BLOCK_BYTES)
  #blockUsed = BLOCK_BYTES

  /**
   * @param key - the 32-byte pre-shared key
   * @param nonce - the 24-byte nonce of this direction
   */
  constructor (key: Uint8Array, nonce: Uint8Array, init: XSalsa20StreamInit = {}) {
    if (key.byteLength !== 32) throw new RangeError(`an XSalsa20 key is 32 bytes, not ${key.byteLength}`)
    if (nonce.byteLength !== 24) throw new RangeError(`an XSalsa20 nonce is 24 bytes, not ${nonce.byteLength}`)
    const startBlock = init.startBlock ?? 0
    if (!Number.isSafeInteger(startBlock) || startBlock < 0 || startBlock > MAX_KEYSTREAM_BLOCKS) {
      throw new RangeError(`startBlock must be an integer in [0, ${MAX_KEYSTREAM_BLOCKS}]`)
    }
    this.#key = Uint8Array.from(key)
    this.#nonce = Uint8Array.from(nonce)
    this.#nextBlock = startBlock
  }

  /** Keystream bytes used so far, counted from block 0. */
  get position (): number {
    return this.#nextBlock * BLOCK_BYTES - this.pending
  }

  /**
   * Keystream bytes already generated and not yet used: the next call XORs its first
   * `min(pending, length)` bytes with them, then continues at a block boundary. A caller that
   * wants noble's word-aligned fast path places its buffer so that this offset is a multiple of 4.
   */
  get pending (): number {
    return BLOCK_BYTES - this.#blockUsed
  }

  /**
   * XORs `input` with the next `input.byteLength` bytes of keystream into `output` (in place by
   * default) and advances the position.
   *
   * @throws {PskKeystreamExhaustedError} when the keystream would run past its last block; the
   * stream is then unchanged
   */
  xor (input: Uint8Array, output: Uint8Array = input): Uint8Array {
    const length = input.byteLength
    if (output.byteLength !== length) {
      throw new RangeError(`output is ${output.byteLength} bytes, input ${length}`)
    }
    const fromBlock = Math.min(this.pending, length)
    const wholeBytes = (length - fromBlock) - ((length - fromBlock) % BLOCK_BYTES)
    const tailBytes = length - fromBlock - wholeBytes
    const blocksNeeded = wholeBytes / BLOCK_BYTES + (tailBytes > 0 ? 1 : 0)
    if (this.#nextBlock + blocksNeeded > MAX_KEYSTREAM_BLOCKS) {
      throw new PskKeystreamExhaustedError(`the XSalsa20 keystream of this connection is used up after ${this.position} bytes; a new connection gets fresh nonces`)
    }

    // 1. The rest of the block a previous call started.
    const block = this.#block
    let used = this.#blockUsed
    for (let index = 0; index < fromBlock; index++) {
      output[index] = (input[index] as number) ^ (block[used++] as number)
    }
    this.#blockUsed = used
    let offset = fromBlock

    // 2. Whole blocks, straight through noble.
    if (wholeBytes > 0) {
      const end = offset + wholeBytes
      xsalsa20(this.#key, this.#nonce, input.subarray(offset, end), output.subarray(offset, end), this.#nextBlock)
      this.#nextBlock += wholeBytes / BLOCK_BYTES
      offset = end
    }

    // 3. A partial block: generate it whole, use its head, keep the rest for the next call.
    if (tailBytes > 0) {
      xsalsa20(this.#key, this.#nonce, ZERO_BLOCK, block, this.#nextBlock)
      this.#nextBlock += 1
      for (let index = 0; index < tailBytes; index++) {
        output[offset + index] = (input[offset + index] as number) ^ (block[index] as number)
      }
      this.#blockUsed = tailBytes
    }
    return output
  }
}
