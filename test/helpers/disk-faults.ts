import { open } from 'node:fs/promises'

/** Bit rot: inverts the byte at `offset` of the file at `path`, in place. */
export async function flipByte (path: string, offset: number): Promise<void> {
  const file = await open(path, 'r+')
  try {
    const byte = Buffer.alloc(1)
    await file.read(byte, 0, 1, offset)
    byte[0] = (byte[0] ?? 0) ^ 0xff
    await file.write(byte, 0, 1, offset)
  } finally {
    await file.close()
  }
}
