import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { HfCacheRepo, hfCacheDir, normalizeEtag, repoFolderName } from '../../src/get/hf-cache.js'
import { tempDir } from '../helpers/nodes.js'

const commit = 'a'.repeat(40)
const oid = 'b'.repeat(64)

describe('the Hugging Face cache layout', () => {
  it('names repo folders as huggingface_hub does', () => {
    assert.equal(repoFolderName('model', 'acme/model'), 'models--acme--model')
    assert.equal(repoFolderName('dataset', 'acme/data'), 'datasets--acme--data')
    assert.equal(repoFolderName('space', 'acme/demo'), 'spaces--acme--demo')
  })

  it('finds the cache from HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, in that order', () => {
    assert.equal(hfCacheDir({ HF_HUB_CACHE: '/c/hub', HF_HOME: '/h' }), '/c/hub')
    assert.equal(hfCacheDir({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' }), '/h/hub')
    assert.equal(hfCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub')
    assert.equal(hfCacheDir({}), join(homedir(), '.cache', 'huggingface', 'hub'))
    assert.equal(hfCacheDir({ HF_HOME: '~/hf' }), join(homedir(), 'hf', 'hub'))
  })

  it('normalizes ETags to blob names and refuses ones that are no file name', () => {
    assert.equal(normalizeEtag(`"${oid}"`), oid)
    assert.equal(normalizeEtag(`W/"${commit}"`), commit)
    assert.equal(normalizeEtag('"../../etc/passwd"'), undefined)
    assert.equal(normalizeEtag('".."'), undefined)
    assert.equal(normalizeEtag(undefined), undefined)
  })

  it('links snapshot paths to blobs with relative symlinks and writes refs without a newline', async () => {
    const cacheDir = await tempDir('damselfly-hfcache-')
    try {
      const repo = new HfCacheRepo(cacheDir, 'model', 'acme/model')
      await mkdir(join(repo.folder, 'blobs'), { recursive: true })
      await writeFile(repo.blobPath(oid), 'weights')
      const pointer = await repo.link(commit, 'sub/dir/model.bin', oid)
      assert.equal(pointer, join(cacheDir, 'models--acme--model', 'snapshots', commit, 'sub', 'dir', 'model.bin'))
      assert.ok((await lstat(pointer)).isSymbolicLink())
      assert.equal(await readlink(pointer), join('..', '..', '..', '..', 'blobs', oid))
      assert.equal(await readFile(pointer, 'utf8'), 'weights')
      // Linking again replaces the link.
      await repo.link(commit, 'sub/dir/model.bin', oid)
      assert.equal(await readFile(pointer, 'utf8'), 'weights')

      await repo.writeRef('main', commit)
      assert.equal(await readFile(join(repo.folder, 'refs', 'main'), 'utf8'), commit)
      await repo.writeRef('refs/pr/1', commit)
      assert.equal(await readFile(join(repo.folder, 'refs', 'refs', 'pr', '1'), 'utf8'), commit)
      await repo.writeRef(commit, commit)
      await assert.rejects(stat(join(repo.folder, 'refs', commit)), { code: 'ENOENT' })

      assert.equal(await repo.hasBlob(oid, 7), true)
      assert.equal(await repo.hasBlob(oid, 8), false)
      assert.equal(await repo.hasBlob(commit), false)
    } finally {
      await rm(cacheDir, { recursive: true, force: true })
    }
  })
})
