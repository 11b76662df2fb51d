/** Which pieces of a task are held: one bit per piece, serialisable for metadata and peers. */
export class Bitmap {
    size;
    bits;
    setCount = 0;
    constructor(size, bits) {
        this.size = size;
        this.bits = new Uint8Array(Math.ceil(size / 8));
        if (bits !== undefined) {
            this.bits.set(bits.subarray(0, this.bits.length));
            // Bits past `size` in the last byte are not ours to keep.
            const tail = size % 8;
            if (tail !== 0 && this.bits.length > 0)
                this.bits[this.bits.length - 1] &= (1 << tail) - 1;
            for (let index = 0; index < size; index++)
                if (this.has(index))
                    this.setCount++;
        }
    }
    static fromBase64(size, encoded) {
        return new Bitmap(size, Buffer.from(encoded, 'base64'));
    }
    has(index) {
        return ((this.bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0;
    }
    set(index) {
        if (index < 0 || index >= this.size)
            throw new RangeError(`piece ${index} outside 0..${this.size - 1}`);
        if (this.has(index))
            return;
        this.bits[index >> 3] |= 1 << (index & 7);
        this.setCount++;
    }
    clear(index) {
        if (!this.has(index))
            return;
        this.bits[index >> 3] &= ~(1 << (index & 7));
        this.setCount--;
    }
    get count() {
        return this.setCount;
    }
    get complete() {
        return this.setCount === this.size;
    }
    /** Indexes of the pieces not yet held, lowest first. */
    missing() {
        const result = [];
        for (let index = 0; index < this.size; index++)
            if (!this.has(index))
                result.push(index);
        return result;
    }
    toBase64() {
        return Buffer.from(this.bits).toString('base64');
    }
}
//# sourceMappingURL=bitmap.js.map