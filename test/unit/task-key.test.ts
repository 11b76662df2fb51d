import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { contentSha256Of, filteredUrl, lfsTaskKey, parseTaskKey, taskKeyFor } from '../../src/task/task-key.js'

const filtered = ['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'X-Amz-*', 'response-content-*', 'X-Xet-Cas-Uid', 'x-id']
const oid = 'a'.repeat(64)

describe('task keys', () => {
  it('keys Hugging Face CDN URLs by the LFS oid, whatever the signature or host', () => {
    const a = taskKeyFor(new URL(`https://cdn-lfs.huggingface.co/repos/12/34/${'b'.repeat(64)}/${oid}?Expires=1&Signature=x&Key-Pair-Id=K`), { filteredQueryParams: filtered })
    const b = taskKeyFor(new URL(`https://cdn-lfs-us-1.hf.co/repos/12/34/${'c'.repeat(64)}/${oid}?Expires=2&Signature=y`), { filteredQueryParams: filtered })
    const c = taskKeyFor(new URL(`https://cas-bridge.xethub.hf.co/xet-bridge-us/123/${oid}?X-Amz-Signature=z`), { filteredQueryParams: filtered })
    assert.equal(a.key, `sha256:${oid}`)
    assert.equal(a.contentSha256, oid)
    assert.equal(a.id, b.id)
    assert.equal(a.id, c.id)
    assert.match(a.id, /^[0-9a-f]{64}$/)
  })

  it('keys other URLs by the URL without signing parameters', () => {
    const a = taskKeyFor(new URL('https://example.com/f.bin?b=2&Signature=1&X-Amz-Date=3&a=1'), { filteredQueryParams: filtered })
    const b = taskKeyFor(new URL('https://example.com/f.bin?a=1&b=2&Signature=9'), { filteredQueryParams: filtered })
    const c = taskKeyFor(new URL('https://example.com/f.bin?a=2&b=2'), { filteredQueryParams: filtered })
    assert.equal(a.key, 'url:https://example.com/f.bin?a=1&b=2')
    assert.equal(a.id, b.id)
    assert.notEqual(a.id, c.id)
    assert.equal(a.contentSha256, undefined)
  })

  it('separates tagged copies', () => {
    const url = new URL(`https://cdn-lfs.hf.co/repos/1/2/3/${oid}`)
    assert.notEqual(taskKeyFor(url, { filteredQueryParams: filtered, tag: 'x' }).id, taskKeyFor(url, { filteredQueryParams: filtered }).id)
  })

  it('filters parameters case-insensitively and by prefix', () => {
    assert.equal(filteredUrl(new URL('http://h/p?x-amz-credential=1&RESPONSE-CONTENT-TYPE=2&keep=3#frag'), filtered), 'http://h/p?keep=3')
  })

  it('reads back every key it builds: same id, same content sha256', () => {
    const keys = [
      taskKeyFor(new URL(`https://cdn-lfs.hf.co/repos/1/2/3/${oid}`), { filteredQueryParams: filtered }),
      taskKeyFor(new URL(`https://cdn-lfs.hf.co/repos/1/2/3/${oid}`), { filteredQueryParams: filtered, tag: 't' }),
      taskKeyFor(new URL('https://example.com/f.bin?a=1'), { filteredQueryParams: filtered }),
      lfsTaskKey(oid)
    ]
    for (const key of keys) {
      const parsed = parseTaskKey(key.key)
      assert.equal(parsed.id, key.id)
      assert.equal(parsed.contentSha256, key.key.startsWith('sha256:') ? oid : undefined)
      assert.equal(contentSha256Of(key.key), parsed.contentSha256)
    }
    assert.deepEqual(lfsTaskKey(oid), taskKeyFor(new URL(`https://cdn-lfs.hf.co/repos/1/2/3/${oid}`), { filteredQueryParams: filtered }))
  })
})
