/**
 * Private-network key files, in the format go-libp2p and js-libp2p (`@libp2p/pnet`) share:
 *
 * ```
 * /key/swarm/psk/1.0.0/
 * /base16/
 * <64 hex digits>
 * ```
 *
 * go-libp2p also reads `/base64/` and `/bin/` keys; so do we. Error messages never quote the
 * file's lines: one of them may be the key.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { PskKeyError } from './errors.js'

/** Bytes in a private-network key. */
export const PSK_KEY_LENGTH = 32

const HEADER = '/key/swarm/psk/1.0.0/'
const ENCODINGS = ['/base16/', '/base64/', '/bin/'] as const
type Encoding = typeof ENCODINGS[number]

/**
 * A new key file: `/key/swarm/psk/1.0.0/\n/base16/\n` and 64 lowercase hex digits, 95 bytes
 * with no trailing newline, byte for byte what `@libp2p/pnet`'s `generateKey` writes.
 */
export function generatePskKey (): Uint8Array {
  const key = randomBytes(PSK_KEY_LENGTH)
  const text = `${HEADER}\n/base16/\n${key.toString('hex')}`
  key.fill(0)
  return new TextEncoder().encode(text)
}

/**
 * The 32-byte key inside a key file. Lines may end in `\n`, `\r\n` or `\r`; trailing
 * whitespace after the key is ignored, anything else is an error.
 *
 * @throws {PskKeyError} when the bytes are not a version 1 key file
 */
export function parsePskKey (bytes: Uint8Array): Uint8Array {
  const header = readLine(bytes, 0)
  if (header === undefined || latin1(header.line) !== HEADER) {
    throw new PskKeyError(`not a private-network key file: its first line must be "${HEADER}" ` +
      '(a file holding only the hex key is not enough; `damselfly keygen` writes a complete one)')
  }
  const encodingLine = readLine(bytes, header.next)
  const encoding = encodingLine === undefined ? undefined : latin1(encodingLine.line)
  if (encodingLine === undefined || !isEncoding(encoding)) {
    throw new PskKeyError(`unsupported key encoding: the second line must be one of ${ENCODINGS.join(', ')}`)
  }
  const body = bytes.subarray(encodingLine.next)
  switch (encoding) {
    case '/base16/':
      return decodeHex(latin1(body).trimEnd())
    case '/base64/':
      return decodeBase64(latin1(body).trimEnd())
    case '/bin/':
      return decodeBinary(body)
  }
}

/**
 * The raw key from what a user configured: a 32-byte key as is, anything else parsed as a key
 * file. (A key file is always longer than 32 bytes, so the two cannot be confused.)
 *
 * @throws {PskKeyError} when the bytes are neither
 */
export function resolvePskKey (keyOrFile: Uint8Array): Uint8Array {
  return keyOrFile.byteLength === PSK_KEY_LENGTH ? Uint8Array.from(keyOrFile) : parsePskKey(keyOrFile)
}

/**
 * Reads and parses a key file.
 *
 * @throws {PskKeyError} when the file cannot be read or is not a key file
 */
export async function readPskFile (path: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
  let bytes: Buffer
  try {
    bytes = await readFile(path, { signal: options.signal })
  } catch (error) {
    if (options.signal?.aborted === true) throw error
    const reason = error instanceof Error ? error.message : String(error)
    throw new PskKeyError(`cannot read the private-network key file ${path}: ${reason}`, { cause: error })
  }
  try {
    return parsePskKey(bytes)
  } catch (error) {
    if (error instanceof PskKeyError) throw new PskKeyError(`${path}: ${error.message}`)
    throw error
  } finally {
    bytes.fill(0)
  }
}

interface Line { line: Uint8Array, next: number }

const LF = 0x0a
const CR = 0x0d

/** The line starting at `start` and where the next one starts; undefined if no line ending follows. */
function readLine (bytes: Uint8Array, start: number): Line | undefined {
  for (let index = start; index < bytes.length; index++) {
    const byte = bytes[index]
    if (byte === LF) return { line: bytes.subarray(start, index), next: index + 1 }
    if (byte === CR) {
      const next = bytes[index + 1] === LF ? index + 2 : index + 1
      return { line: bytes.subarray(start, index), next }
    }
  }
  return undefined
}

function isEncoding (value: string | undefined): value is Encoding {
  return (ENCODINGS as readonly string[]).includes(value ?? '')
}

function latin1 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

function decodeHex (text: string): Uint8Array {
  if (text.length !== PSK_KEY_LENGTH * 2) {
    throw new PskKeyError(`the key must be ${PSK_KEY_LENGTH * 2} hex digits (${PSK_KEY_LENGTH} bytes) on the third line; found ${text.length} characters`)
  }
  if (!/^[0-9a-fA-F]+$/.test(text)) {
    throw new PskKeyError('the key on the third line holds a character that is not a hex digit')
  }
  const key = new Uint8Array(PSK_KEY_LENGTH)
  for (let index = 0; index < PSK_KEY_LENGTH; index++) {
    key[index] = Number.parseInt(text.slice(index * 2, index * 2 + 2), 16)
  }
  return key
}

function decodeBase64 (text: string): Uint8Array {
  // 32 bytes are 43 base64 characters and one '=' of padding.
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    throw new PskKeyError(`the key must be ${PSK_KEY_LENGTH} bytes in padded standard base64 (44 characters) on the third line`)
  }
  return Uint8Array.from(Buffer.from(text, 'base64'))
}

function decodeBinary (body: Uint8Array): Uint8Array {
  const trailingNewline = body.length === PSK_KEY_LENGTH + 1 && body[PSK_KEY_LENGTH] === LF
  if (body.length !== PSK_KEY_LENGTH && !trailingNewline) {
    throw new PskKeyError(`a /bin/ key must be exactly ${PSK_KEY_LENGTH} bytes after the second line; found ${body.length}`)
  }
  return Uint8Array.from(body.subarray(0, PSK_KEY_LENGTH))
}
