/**
 * The simulator (scripts/sim/) driving the scheduling decisions end to end, small: every host
 * finishes, the origin serves the file once, and a seed gives the same run twice. Checks
 * outcomes the decisions are for, never wall-clock times.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { simulate, type SimConfig } from '../scripts/sim/swarm-sim.js'
import { policyOf } from '../scripts/sim/policy.js'

const base: SimConfig = {
  hosts: 40,
  fileBytes: 16 * 1024 * 1024,
  policy: policyOf('rate', 1024),
  profile: 'mixed',
  degree: 12,
  seedDegree: 16,
  seedPool: 4,
  churn: 0,
  seed: 3,
  originTotal: 10_000,
  originPerConnection: 2000,
  originConnections: 4,
  maxTStar: 30
}

describe('simulated swarm (rate policy)', () => {
  it('finishes every host with the origin serving the file once', () => {
    const result = simulate(base)
    assert.equal(result.unfinished, 0)
    assert.equal(result.finished, 40)
    assert.ok(result.originRatio >= 1 && result.originRatio <= 1.05, `origin ${result.originRatio}× the file`)
    assert.ok(result.lastRatio >= 1, `a host beat the lower bound: ${result.lastRatio}`)
    assert.equal(result.controlByKind['task-gossip'], 0, 'no cluster-wide gossip under the rate policy')
  })

  it('is deterministic for a seed and differs across seeds', () => {
    const strip = ({ wallMs, ...rest }: ReturnType<typeof simulate>): object => rest
    assert.deepEqual(strip(simulate(base)), strip(simulate(base)))
    assert.notDeepEqual(strip(simulate({ ...base, seed: 4 })), strip(simulate(base)))
  })

  it('survives hosts leaving: the rest finish, none of them stuck', () => {
    const result = simulate({ ...base, churn: 0.2 })
    assert.ok(result.departed > 0)
    assert.equal(result.unfinished, 0)
    assert.equal(result.finished + result.departed, 40)
  })

  it('elects more seeds when each origin connection is slower', () => {
    const fast = simulate({ ...base, originPerConnection: 5000, fileBytes: 32 * 1024 * 1024 })
    const slow = simulate({ ...base, originPerConnection: 500, fileBytes: 32 * 1024 * 1024 })
    assert.ok(slow.seeds > fast.seeds, `${slow.seeds} seeds at 0.5 MB/s vs ${fast.seeds} at 5 MB/s`)
  })
})
