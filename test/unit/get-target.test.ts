import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError } from '../../src/errors.js'
import { createFileFilter } from '../../src/get/file-filter.js'
import { describeRepo, parseTarget, resolvePath, revisionApiPath } from '../../src/get/target.js'

describe('damselfly get targets', () => {
  it('parses a whole model repo, a file and a folder', () => {
    assert.deepEqual(parseTarget('hf://acme/model'), { kind: 'hub', repoType: 'model', repoId: 'acme/model', path: '', folder: false })
    assert.deepEqual(parseTarget('hf://acme/model/config.json'), { kind: 'hub', repoType: 'model', repoId: 'acme/model', path: 'config.json', folder: false })
    assert.deepEqual(parseTarget('hf://acme/model/tokenizer/'), { kind: 'hub', repoType: 'model', repoId: 'acme/model', path: 'tokenizer', folder: true })
    assert.deepEqual(parseTarget('hf://models/acme/model/a/b.bin'), { kind: 'hub', repoType: 'model', repoId: 'acme/model', path: 'a/b.bin', folder: false })
  })

  it('parses datasets, spaces and revisions, percent-decoding the revision', () => {
    assert.deepEqual(parseTarget('hf://datasets/acme/data/train/0.parquet'), { kind: 'hub', repoType: 'dataset', repoId: 'acme/data', path: 'train/0.parquet', folder: false })
    assert.deepEqual(parseTarget('hf://spaces/acme/demo@v1.0'), { kind: 'hub', repoType: 'space', repoId: 'acme/demo', revision: 'v1.0', path: '', folder: false })
    assert.equal((parseTarget('hf://acme/model@refs%2Fpr%2F3/x') as { revision: string }).revision, 'refs/pr/3')
  })

  it('takes http and https URLs as they are', () => {
    const target = parseTarget('https://cdn.example/repos/ab/file?Expires=1')
    assert.equal(target.kind, 'url')
    assert.equal(target.kind === 'url' && target.url.href, 'https://cdn.example/repos/ab/file?Expires=1')
  })

  it('refuses what it cannot download, as a usage error naming the target', () => {
    for (const bad of ['hf://acme', 'hf://acme/', 'hf://datasets/acme', 'hf://acme/mo del', 'hf://acme/model/../x', 'hf://acme/model@', 'ftp://host/file', 'acme/model', '']) {
      assert.throws(() => parseTarget(bad), (error: unknown) => error instanceof ConfigError && error.message.includes(`"${bad}"`), bad)
    }
  })

  it('builds Hub URLs with each path segment and the revision encoded', () => {
    const target = { repoType: 'dataset' as const, repoId: 'acme/data' }
    assert.equal(resolvePath(target, 'refs/pr/1', 'dir/a b#.txt'), '/datasets/acme/data/resolve/refs%2Fpr%2F1/dir/a%20b%23.txt')
    assert.equal(resolvePath({ repoType: 'model', repoId: 'acme/m' }, 'main', 'config.json'), '/acme/m/resolve/main/config.json')
    assert.equal(revisionApiPath(target, 'main'), '/api/datasets/acme/data/revision/main?blobs=true')
    assert.equal(describeRepo(target), 'hf://datasets/acme/data')
  })
})

describe('--include / --exclude', () => {
  const paths = ['config.json', 'tokenizer/vocab.json', 'model.safetensors', '.gitattributes', 'onnx/model.onnx']

  it('matches as hf download does: * crosses folders, dot files match, a trailing / means a folder', () => {
    assert.deepEqual(paths.filter(createFileFilter({ include: ['*.json'], exclude: [] })), ['config.json', 'tokenizer/vocab.json'])
    assert.deepEqual(paths.filter(createFileFilter({ include: ['*'], exclude: [] })), paths)
    assert.deepEqual(paths.filter(createFileFilter({ include: ['onnx/'], exclude: [] })), ['onnx/model.onnx'])
    assert.deepEqual(paths.filter(createFileFilter({ include: ['*.json', '*.safetensors'], exclude: ['tokenizer/*'] })), ['config.json', 'model.safetensors'])
    assert.deepEqual(paths.filter(createFileFilter({ include: [], exclude: [] })), paths)
  })
})
