import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto'
import { createCertificateAuthority } from '../../src/tls/certificate-authority.js'
import { LeafIssuer } from '../../src/tls/leaf-issuer.js'

const day = 24 * 60 * 60 * 1000

describe('the leaf issuer', async () => {
  const { ca } = await createCertificateAuthority({ commonName: 'Damselfly unit-test CA' })
  const caCertificate = new X509Certificate(ca.certificatePem)

  it('makes a CA that may sign leaves but no further CAs', () => {
    assert.equal(caCertificate.ca, true)
    assert.ok(caCertificate.verify(caCertificate.publicKey), 'self-signed')
    assert.match(caCertificate.subject, /CN=Damselfly unit-test CA/)
    assert.ok(new Date(caCertificate.validTo).getTime() - Date.now() > 3000 * day)
  })

  it('issues a certificate for a DNS name that chains to the CA', async () => {
    const issuer = new LeafIssuer({ ca })
    const leaf = await issuer.issue('Huggingface.CO')
    const certificate = new X509Certificate(leaf.certificatePem)
    assert.equal(certificate.ca, false)
    assert.ok(certificate.verify(caCertificate.publicKey), 'signed by the CA')
    assert.ok(certificate.checkIssued(caCertificate))
    assert.equal(certificate.subjectAltName, 'DNS:huggingface.co')
    assert.equal(certificate.checkHost('huggingface.co'), 'huggingface.co')
    assert.equal(certificate.checkHost('cdn-lfs.hf.co'), undefined)
    assert.equal(certificate.checkHost('evil-huggingface.co'), undefined)
    assert.equal(certificate.checkIP('127.0.0.1'), undefined)
    assert.deepEqual(certificate.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth only')
    // Valid now, with an hour of slack for slow clocks, and for 30 days.
    const from = new Date(certificate.validFrom).getTime()
    const to = new Date(certificate.validTo).getTime()
    assert.ok(from <= Date.now() - 30 * 60 * 1000 && from > Date.now() - 2 * 60 * 60 * 1000, certificate.validFrom)
    assert.ok(Math.abs(to - (Date.now() + 30 * day)) < 60 * 60 * 1000, certificate.validTo)
    // The key handed to TLS is the key of the certificate.
    assert.equal(
      createPublicKey(createPrivateKey(leaf.privateKeyPem)).export({ type: 'spki', format: 'der' }).toString('hex'),
      certificate.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'))
  })

  it('issues IP address SANs for IPv4 and IPv6 hosts', async () => {
    const issuer = new LeafIssuer({ ca })
    const v4 = new X509Certificate((await issuer.issue('127.0.0.1')).certificatePem)
    assert.equal(v4.subjectAltName, 'IP Address:127.0.0.1')
    assert.equal(v4.checkIP('127.0.0.1'), '127.0.0.1')
    assert.equal(v4.checkIP('127.0.0.2'), undefined)
    assert.ok(v4.verify(caCertificate.publicKey))
    const v6 = new X509Certificate((await issuer.issue('::1')).certificatePem)
    assert.equal(v6.checkIP('::1'), '::1')
    assert.ok(v6.verify(caCertificate.publicKey))
  })

  it('keeps one certificate per host and makes another for a new host', async () => {
    const issuer = new LeafIssuer({ ca })
    const [first, again] = await Promise.all([issuer.issue('a.example'), issuer.issue('A.example')])
    assert.equal(first, again, 'concurrent asks for one host share one certificate')
    assert.equal(await issuer.issue('a.example'), first)
    const other = await issuer.issue('b.example')
    assert.notEqual(other.certificatePem, first.certificatePem)
    assert.notEqual(new X509Certificate(other.certificatePem).serialNumber, new X509Certificate(first.certificatePem).serialNumber)
  })

  it('drops the oldest host past its cache size', async () => {
    const issuer = new LeafIssuer({ ca }, { maxCached: 2 })
    const first = await issuer.issue('one.example')
    await issuer.issue('two.example')
    await issuer.issue('three.example')
    assert.notEqual(await issuer.issue('one.example'), first)
  })

  it('never outlives its CA', async () => {
    const { ca: shortLived } = await createCertificateAuthority({ validityDays: 2 })
    const leaf = new X509Certificate((await new LeafIssuer({ ca: shortLived }).issue('x.example')).certificatePem)
    assert.ok(new Date(leaf.validTo).getTime() <= shortLived.certificate.notAfter.getTime())
  })

  it('renews a certificate that has less than a day left', async () => {
    const { ca: shortLived } = await createCertificateAuthority({ validityDays: 1 })
    const issuer = new LeafIssuer({ ca: shortLived })
    const first = await issuer.issue('x.example')
    assert.notEqual(await issuer.issue('x.example'), first)
  })
})
