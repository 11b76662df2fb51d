import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { globToRegExp, matchesAny } from '../../src/preheat/glob.js'
import { formatRepoRef, parseRepoRef } from '../../src/preheat/repo-ref.js'

describe('hf:// repo references', () => {
  it('reads the type, the id and the revision', () => {
    assert.deepEqual(parseRepoRef('hf://acme/model'), { type: 'model', id: 'acme/model', revision: 'main' })
    assert.deepEqual(parseRepoRef('hf://datasets/acme/data@v1.0'), { type: 'dataset', id: 'acme/data', revision: 'v1.0' })
    assert.deepEqual(parseRepoRef('hf://spaces/acme/demo@0123456789abcdef0123456789abcdef01234567'), { type: 'space', id: 'acme/demo', revision: '0123456789abcdef0123456789abcdef01234567' })
    assert.deepEqual(parseRepoRef('hf://acme/model@refs/pr/3'), { type: 'model', id: 'acme/model', revision: 'refs/pr/3' })
  })

  it('formats back to the same text', () => {
    for (const text of ['hf://acme/model', 'hf://datasets/acme/data@v1.0', 'hf://spaces/a.b/c-d@dev']) assert.equal(formatRepoRef(parseRepoRef(text)), text)
  })

  it('rejects what is not one', () => {
    for (const text of ['acme/model', 'hf://acme', 'hf://acme/model/file.bin', 'hf://datasets/acme', 'hf://acme/model@', 'https://huggingface.co/acme/model', 'hf://../x']) {
      assert.throws(() => parseRepoRef(text), Error, text)
    }
  })
})

describe('--include globs (fnmatch, as huggingface_hub allow_patterns)', () => {
  it('* crosses directories, ? is one character, [] a set', () => {
    assert.ok(globToRegExp('*.safetensors').test('model-00001.safetensors'))
    assert.ok(globToRegExp('*.safetensors').test('sub/dir/model.safetensors'))
    assert.ok(!globToRegExp('*.safetensors').test('model.safetensors.index.json'))
    assert.ok(globToRegExp('model-0000?.bin').test('model-00003.bin'))
    assert.ok(!globToRegExp('model-0000?.bin').test('model-000010.bin'))
    assert.ok(globToRegExp('part-[0-2].parquet').test('part-1.parquet'))
    assert.ok(!globToRegExp('part-[!0-2].parquet').test('part-1.parquet'))
  })

  it('takes regular expression characters literally', () => {
    assert.ok(globToRegExp('a+b(1).bin').test('a+b(1).bin'))
    assert.ok(!globToRegExp('a.bin').test('axbin'))
    assert.ok(globToRegExp('[unclosed').test('[unclosed'))
  })

  it('no pattern keeps every path, several keep what any matches', () => {
    assert.ok(matchesAny('anything', []))
    assert.ok(matchesAny('train/a.parquet', ['test/*', 'train/*']))
    assert.ok(!matchesAny('valid/a.parquet', ['test/*', 'train/*']))
  })
})
