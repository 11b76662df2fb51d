import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './repo-root.js'

const run = promisify(execFile)

/**
 * Builds the node of an earlier commit (e.g. release 0.1.0, 1baaa71) from this checkout's git
 * history and returns its `bin/damselfly.js`. The sources come from `git archive` (no worktree is
 * left behind); the dependencies are this checkout's node_modules, so the commit must not need
 * packages that are gone. The build is kept under the system temp folder and reused.
 */
export async function buildRelease (commit: string): Promise<string> {
  const target = join(tmpdir(), `damselfly-build-${commit}`)
  const bin = join(target, 'bin', 'damselfly.js')
  const root = repoRoot()
  if (existsSync(join(target, 'dist', 'src', 'cli', 'main.js'))) {
    // A build cached by another checkout runs with this one's dependencies.
    const modules = join(target, 'node_modules')
    if (await readlink(modules).catch(() => undefined) !== join(root, 'node_modules')) {
      await rm(modules, { force: true })
      await symlink(join(root, 'node_modules'), modules, 'dir')
    }
    return bin
  }
  await mkdir(tmpdir(), { recursive: true })
  const work = await mkdtemp(join(tmpdir(), `damselfly-building-${commit}-`))
  try {
    const archive = join(work, 'source.tar')
    await run('git', ['-C', root, 'archive', '--output', archive, commit, 'src', 'bin', 'package.json', 'tsconfig.json'])
    await run('tar', ['-xf', archive, '-C', work])
    await rm(archive)
    await symlink(join(root, 'node_modules'), join(work, 'node_modules'), 'dir')
    await writeFile(join(work, 'tsconfig.build.json'), JSON.stringify({ extends: './tsconfig.json', include: ['src/**/*.ts'], compilerOptions: { incremental: false } }))
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(work, 'tsconfig.build.json')], { cwd: work })
    // Another run may have finished the same build meanwhile: either copy is as good.
    await rename(work, target).catch(async () => { await rm(work, { recursive: true, force: true }) })
  } catch (error) {
    await rm(work, { recursive: true, force: true })
    throw error
  }
  return bin
}
