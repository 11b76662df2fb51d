import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { dhtMayNameMoreHolders } from '../../src/scheduling/holder-lookup.js'

const smallMesh = { routingTableSize: 7, bucketSize: 20, askedDhtPeers: 7, settled: true }

describe('whether a holder search asks the DHT too', () => {
  it('skips the lookup in a settled swarm smaller than k where every table peer was asked directly', () => {
    assert.equal(dhtMayNameMoreHolders(smallMesh), false)
    assert.equal(dhtMayNameMoreHolders({ ...smallMesh, routingTableSize: 0, askedDhtPeers: 0 }), false, 'alone: nobody to ask')
  })

  it('looks up while this node\'s view of the swarm still grows (a joining node knows only a few peers)', () => {
    assert.equal(dhtMayNameMoreHolders({ ...smallMesh, settled: false }), true)
  })

  it('looks up when the table may hold peers the direct round did not ask', () => {
    assert.equal(dhtMayNameMoreHolders({ ...smallMesh, routingTableSize: 8 }), true, 'a table peer is not connected')
  })

  it('looks up once the DHT may be larger than k: a provide then reaches only the k closest peers', () => {
    assert.equal(dhtMayNameMoreHolders({ routingTableSize: 20, bucketSize: 20, askedDhtPeers: 20, settled: true }), true)
    assert.equal(dhtMayNameMoreHolders({ routingTableSize: 60, bucketSize: 20, askedDhtPeers: 60, settled: true }), true)
    assert.equal(dhtMayNameMoreHolders({ routingTableSize: 19, bucketSize: 20, askedDhtPeers: 19, settled: true }), false)
  })
})
