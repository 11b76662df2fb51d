/** Which pieces of a task are held: one bit per piece, serialisable for metadata and peers. */
export class Bitmap {
  readonly size: number
  private readonly bits: Uint8Array
  private setCount = 0

  constructor (size: number, bits?: Uint8Array) {
    this.size = size
    this.bits = new Uint8Array(Math.ceil(size / 8))
    if (bits !== undefined) {
      this.bits.set(bits.subarray(0, this.bits.length))
      // Bits past `size` in the last byte are not ours to keep.
      const tail = size % 8
      if (tail !== 0 && this.bits.length > 0) this.bits[this.bits.length - 1]! &= (1 << tail) - 1
      for (let index = 0; index < size; index++) if (this.has(index)) this.setCount++
    }
  }

  static fromBase64 (size: number, encoded: string): Bitmap {
    return new Bitmap(size, Buffer.from(encoded, 'base64'))
  }

  /** A snapshot that later changes to this bitmap do not touch. */
  copy (): Bitmap {
    return new Bitmap(this.size, this.bits)
  }

  has (index: number): boolean {
    return ((this.bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0
  }

  set (index: number): void {
    if (index < 0 || index >= this.size) throw new RangeError(`piece ${index} outside 0..${this.size - 1}`)
    if (this.has(index)) return
    this.bits[index >> 3]! |= 1 << (index & 7)
    this.setCount++
  }

  clear (index: number): void {
    if (!this.has(index)) return
    this.bits[index >> 3]! &= ~(1 << (index & 7))
    this.setCount--
  }

  get count (): number {
    return this.setCount
  }

  get complete (): boolean {
    return this.setCount === this.size
  }

  /** Indexes of the pieces not yet held, lowest first. */
  missing (): number[] {
    const result: number[] = []
    for (let index = 0; index < this.size; index++) if (!this.has(index)) result.push(index)
    return result
  }

  toBase64 (): string {
    return Buffer.from(this.bits).toString('base64')
  }
}
