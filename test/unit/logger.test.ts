import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createLogger } from '../../src/logging/logger.js'
import { UpstreamUnreachableError } from '../../src/errors.js'

function jsonLogger (): { lines: Array<Record<string, unknown>>, log: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = []
  return { lines, log: createLogger({ format: 'json', level: 'debug', write: line => { lines.push(JSON.parse(line) as Record<string, unknown>) } }) }
}

describe('JSON log lines', () => {
  it('keep the fixed keys against fields of the same name', () => {
    const { lines, log } = jsonLogger()
    log.forComponent('proxy').info('request', { msg: 'spoofed', level: 'error', url: '/x' })
    assert.equal(lines[0]?.msg, 'request')
    assert.equal(lines[0]?.level, 'info')
    assert.equal(lines[0]?.component, 'damselfly:proxy')
    assert.equal(lines[0]?.url, '/x')
  })

  it('write errors as name, code and message, and bigints as strings', () => {
    const { lines, log } = jsonLogger()
    log.warn('origin failed', { error: new UpstreamUnreachableError('cannot reach cdn'), size: 12n })
    assert.deepEqual(lines[0]?.error, { name: 'UpstreamUnreachableError', code: 'ERR_UPSTREAM_UNREACHABLE', message: 'cannot reach cdn' })
    assert.equal(lines[0]?.size, '12')
  })

  it('keep the line when a field cannot be serialised', () => {
    const { lines, log } = jsonLogger()
    const loop: Record<string, unknown> = {}
    loop.self = loop
    log.error('odd', { loop })
    assert.equal(lines[0]?.msg, 'odd')
    assert.match(String(lines[0]?.logError), /not serialisable/)
  })
})
