/**
 * The admin token file (`--admin-token-file`): one token, surrounding whitespace ignored. The
 * node reads it to guard its admin port; `damselfly preheat` reads the same file to send it.
 * Messages never quote the file's content: it may be the token.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { ConfigError } from '../errors.js'

/** The shortest token accepted: 32 characters, 128 bits as hex. */
export const minAdminTokenLength = 32

/** How to make a token, for messages and help. */
export const makeAdminTokenHint = '`damselfly keygen admin-token -o FILE` or `openssl rand -hex 32 > FILE`'

/** A new token: 32 random bytes as 64 lowercase hex digits. */
export function generateAdminToken (): string {
  return randomBytes(32).toString('hex')
}

/**
 * The token in a file's text. It must be one word of printable ASCII (it travels in an HTTP
 * header) of at least {@link minAdminTokenLength} characters.
 *
 * @param source how messages name the file, e.g. `--admin-token-file /etc/damselfly/admin/token`
 * @throws {ConfigError} when the text holds no acceptable token
 */
export function parseAdminToken (text: string, source: string): string {
  const token = text.trim()
  if (token === '') throw new ConfigError(`${source}: the file is empty; write a token into it (${makeAdminTokenHint})`)
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError(`${source}: the token must be one word of printable ASCII characters, without spaces or line breaks (${makeAdminTokenHint})`)
  }
  if (token.length < minAdminTokenLength) {
    throw new ConfigError(`${source}: the token has ${token.length} characters, fewer than ${minAdminTokenLength}; make a longer one (${makeAdminTokenHint})`)
  }
  return token
}

/**
 * Reads and checks the token file.
 *
 * @throws {ConfigError} when the file cannot be read or holds no acceptable token
 */
export async function readAdminTokenFile (path: string, source = `--admin-token-file ${path}`, options: { signal?: AbortSignal } = {}): Promise<string> {
  let text: string
  try {
    text = await readFile(path, { encoding: 'utf8', signal: options.signal })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : error instanceof Error ? error.message : String(error)
    throw new ConfigError(`${source}: cannot read the admin token file: ${reason}`, { cause: error })
  }
  return parseAdminToken(text, source)
}
