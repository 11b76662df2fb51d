import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { UpstreamStatusError } from '../../src/errors.js'
import type { OriginSource, ProbeResult } from '../../src/origin/origin-client.js'
import { AccessCheck, hasCredentials } from '../../src/proxy/access-check.js'
import type { Task } from '../../src/task/task.js'

/** An origin that accepts one token, counting the probes it answers. */
function fakeOrigin (): { probe: (source: OriginSource) => Promise<ProbeResult>, probes: number } {
  const origin = {
    probes: 0,
    probe: async (source: OriginSource): Promise<ProbeResult> => {
      origin.probes++
      if (source.headers.authorization !== 'Bearer good') throw new UpstreamStatusError(401, {}, Buffer.from('no'), source.url)
      return { length: 1, headers: {}, finalSource: source }
    }
  }
  return origin
}

const privateTask = { id: 'a'.repeat(64), private: true } as unknown as Task
const publicTask = { id: 'b'.repeat(64), private: false } as unknown as Task
const url = 'http://cdn.invalid/repos/x'

describe('access checks for private tasks', () => {
  it('asks the origin with the client’s own credentials and passes its refusal on', async () => {
    const origin = fakeOrigin()
    const access = new AccessCheck({ origin })
    await access.check(privateTask, { url, headers: { authorization: 'Bearer good' } }, AbortSignal.timeout(1000))
    await assert.rejects(access.check(privateTask, { url, headers: {} }, AbortSignal.timeout(1000)), (error: unknown) => error instanceof UpstreamStatusError && error.status === 401)
    await assert.rejects(access.check(privateTask, { url, headers: { authorization: 'Bearer bad' } }, AbortSignal.timeout(1000)), UpstreamStatusError)
    assert.equal(origin.probes, 3)
  })

  it('remembers a yes for the TTL, per credential, and never remembers a no', async () => {
    let now = 0
    const origin = fakeOrigin()
    const access = new AccessCheck({ origin }, { ttlMs: 60_000, now: () => now })
    const good = { url, headers: { authorization: 'Bearer good' } }
    await access.check(privateTask, good, AbortSignal.timeout(1000))
    await access.check(privateTask, good, AbortSignal.timeout(1000))
    assert.equal(origin.probes, 1)
    await assert.rejects(access.check(privateTask, { url, headers: {} }, AbortSignal.timeout(1000)))
    await assert.rejects(access.check(privateTask, { url, headers: {} }, AbortSignal.timeout(1000)))
    assert.equal(origin.probes, 3)
    now = 60_001
    await access.check(privateTask, good, AbortSignal.timeout(1000))
    assert.equal(origin.probes, 4)
  })

  it('leaves public tasks alone', async () => {
    const origin = fakeOrigin()
    await new AccessCheck({ origin }).check(publicTask, { url, headers: {} }, AbortSignal.timeout(1000))
    assert.equal(origin.probes, 0)
  })

  it('knows credentials when it sees them', () => {
    assert.equal(hasCredentials({ authorization: 'Bearer x' }), true)
    assert.equal(hasCredentials({ cookie: 'session=1' }), true)
    assert.equal(hasCredentials({ 'user-agent': 'curl' }), false)
    assert.equal(hasCredentials({ authorization: '' }), false)
  })
})
