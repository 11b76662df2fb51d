import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateAdminToken, minAdminTokenLength, parseAdminToken } from '../../src/admin/admin-token-file.js'
import { BearerGuard } from '../../src/admin/bearer-guard.js'
import { ConfigError } from '../../src/errors.js'

const token = 'a'.repeat(minAdminTokenLength - 1) + 'Z'

describe('parseAdminToken', () => {
  it('takes one word of printable ASCII of at least 32 characters, whitespace around it dropped', () => {
    assert.equal(parseAdminToken(`  ${token}\r\n`, 'FILE'), token)
    assert.equal(parseAdminToken('x-~!.'.repeat(8), 'FILE'), 'x-~!.'.repeat(8))
    assert.match(generateAdminToken(), /^[0-9a-f]{64}$/)
    assert.equal(parseAdminToken(generateAdminToken(), 'FILE').length, 64)
  })

  it('refuses an empty, short, spaced or non-ASCII token, naming the source and never the content', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /^FILE: the file is empty/],
      [' \n\t', /^FILE: the file is empty/],
      [token.slice(1), /^FILE: the token has 31 characters, fewer than 32/],
      [`${token} ${token}`, /^FILE: the token must be one word of printable ASCII/],
      [`${token}é`, /^FILE: the token must be one word of printable ASCII/]
    ]
    for (const [text, message] of cases) {
      assert.throws(() => parseAdminToken(text, 'FILE'), (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.match(error.message, message)
        if (text.trim() !== '') assert.ok(!error.message.includes(text.trim()), 'the message does not quote the token')
        return true
      })
    }
  })
})

describe('BearerGuard', () => {
  const guard = new BearerGuard(token)

  it('lets the token through as a Bearer credential, the scheme in any case', () => {
    for (const header of [`Bearer ${token}`, `bearer ${token}`, `BEARER  ${token} `]) assert.equal(guard.check(header), undefined, header)
  })

  it('tells a missing credential from a wrong one', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', token, `Basic ${token}`, `Bearer ${token} extra`]) {
      assert.equal(guard.check(header)?.reason, 'missing', String(header))
    }
    for (const header of [`Bearer ${token.toLowerCase()}`, `Bearer ${token}a`, `Bearer ${token.slice(1)}`, 'Bearer x']) {
      const refusal = guard.check(header)
      assert.equal(refusal?.reason, 'invalid', header)
      assert.equal(refusal?.code, 'ERR_ADMIN_UNAUTHORIZED')
    }
  })
})
