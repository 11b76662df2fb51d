import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DownloadError } from '../../src/errors.js'
import { NodeClient } from '../../src/get/node-client.js'
import { saveResponse } from '../../src/get/save-file.js'
import { tempDir } from '../helpers/nodes.js'

const body = Buffer.alloc(256 * 1024, 7)
const sha256 = createHash('sha256').update(body).digest('hex')
const gitSha1 = createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex')

/** A real server standing in for the node: whole bodies, and bodies cut halfway. */
describe('saving a download', () => {
  let server: Server
  let client: NodeClient
  let folder: string

  before(async () => {
    server = createServer((request, response) => {
      response.writeHead(200, { 'content-length': body.length })
      if (request.url === '/cut') {
        response.write(body.subarray(0, body.length / 2), () => { response.destroy() })
      } else {
        response.end(body)
      }
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    client = new NodeClient({ nodeUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
    folder = await tempDir('damselfly-save-')
  })

  after(async () => {
    await client.close()
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
    await rm(folder, { recursive: true, force: true })
  })

  const save = async (path: string, name: string, expected: Parameters<typeof saveResponse>[1]['expected']): Promise<unknown> => {
    const response = await client.getHubPath(path, AbortSignal.timeout(10_000))
    let counted = 0
    const saved = await saveResponse(response, { label: name, destination: join(folder, 'sub', name), expected, onBytes: (count) => { counted += count } }, AbortSignal.timeout(10_000))
    assert.equal(counted, body.length)
    return saved
  }

  it('writes a whole body that matches its sha256 and git blob id, creating folders', async () => {
    assert.deepEqual(await save('/whole', 'a.bin', { size: body.length, sha256 }), { size: body.length, sha256 })
    assert.deepEqual(await save('/whole', 'b.txt', { gitSha1 }), { size: body.length, sha256 })
    assert.ok((await readFile(join(folder, 'sub', 'a.bin'))).equals(body))
  })

  it('leaves no file, complete-looking or temporary, when the body is cut or corrupt', async () => {
    await assert.rejects(save('/cut', 'cut.bin', {}), (error: unknown) =>
      error instanceof DownloadError && /cut\.bin: the download broke off/.test(error.message))
    await assert.rejects(save('/whole', 'bad.bin', { sha256: '0'.repeat(64) }), (error: unknown) =>
      error instanceof DownloadError && /bad\.bin: sha256 [0-9a-f]{64} does not match/.test(error.message))
    await assert.rejects(save('/whole', 'bad.txt', { gitSha1: '0'.repeat(40) }), /bad\.txt: git blob id/)
    await assert.rejects(save('/whole', 'short.bin', { size: body.length + 1 }), /short\.bin: the node announced/)
    assert.deepEqual((await readdir(join(folder, 'sub'))).sort(), ['a.bin', 'b.txt'])
  })
})
