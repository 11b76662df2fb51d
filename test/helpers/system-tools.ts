/**
 * The one place that knows how to find the programs outside Node that tests drive (curl, aria2c,
 * nginx, Python with a module, Chromium, `script`, and network namespaces).
 *
 * A test that needs one declares it with node:test's skip option:
 *
 *   it('aria2c …', { skip: skipUnless('aria2c') }, async () => { … tool('aria2c') … })
 *
 * On a machine without the tool the test is skipped and the reason, with the package that brings
 * it, is printed. Under CI=true nothing is skipped: the test runs and fails at `tool()` with the
 * same reason, so CI (which installs everything, see .ci/run) keeps running every test.
 *
 * Everything is looked up where it really is (PATH, then Debian's fixed paths), so a missing tool
 * is simulated by a PATH without it, or by hiding the file (a bind mount in a mount namespace).
 */
import { execFile, execFileSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export type Need = 'curl' | 'aria2c' | 'script' | 'nginx' | 'chromium' | 'netns' | 'python3+requests' | 'python3+httpx'
/** The needs that are one program to run. */
export type ToolNeed = Exclude<Need, 'chromium' | 'netns'>

const install: Record<Need, string> = {
  curl: 'apt-get install curl',
  aria2c: 'apt-get install aria2',
  script: 'apt-get install bsdutils',
  nginx: 'apt-get install nginx-light',
  chromium: 'apt-get install chromium, or npm install (the @sparticuz/chromium devDependency)',
  netns: 'root and iproute2 (apt-get install iproute2)',
  'python3+requests': 'apt-get install python3-requests',
  'python3+httpx': 'apt-get install python3-httpx'
}

function executable (path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** `name` as an executable file on PATH, then in `extraDirs`; its full path, or undefined. */
export function findExecutable (name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(dir => dir !== ''), ...extraDirs]
  return dirs.map(dir => join(dir, name)).find(executable)
}

/** Debian keeps nginx, ip and tc in the sbin folders, which a non-root PATH often lacks. */
const sbin = ['/usr/sbin', '/sbin']

/** The first Python that imports `module`: the one on PATH (maybe pyenv's), then Debian's. */
function pythonWith (module: string): string | undefined {
  for (const candidate of [findExecutable('python3'), '/usr/bin/python3']) {
    if (candidate === undefined) continue
    try {
      execFileSync(candidate, ['-c', `import ${module}`], { stdio: 'ignore' })
      return candidate
    } catch {}
  }
  return undefined
}

/** Debian's chromium, or (DAMSELFLY_CHROMIUM) one given by path; undefined when neither is there. */
function systemChromium (): string | undefined {
  const path = process.env.DAMSELFLY_CHROMIUM ?? '/usr/bin/chromium'
  return executable(path) ? path : undefined
}

/** Whether the npm package that ships a Chromium build is installed. */
function packagedChromium (): boolean {
  try {
    import.meta.resolve('@sparticuz/chromium')
    return true
  } catch {
    return false
  }
}

function netnsProblem (): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  for (const name of ['ip', 'tc']) {
    if (findExecutable(name, sbin) === undefined) return `network namespaces need \`${name}\`: ${install.netns}`
  }
  return undefined
}

const found = new Map<ToolNeed, string | undefined>()

function locate (need: ToolNeed): string | undefined {
  if (!found.has(need)) {
    found.set(need, need === 'python3+requests' ? pythonWith('requests')
      : need === 'python3+httpx' ? pythonWith('httpx')
        : findExecutable(need, need === 'nginx' ? sbin : []))
  }
  return found.get(need)
}

/** Why `need` is not met here ("needs aria2c: apt-get install aria2"), or undefined when it is. */
export function unmet (need: Need): string | undefined {
  if (need === 'netns') return netnsProblem()
  const there = need === 'chromium' ? systemChromium() !== undefined || packagedChromium() : locate(need) !== undefined
  return there ? undefined : `needs ${need}: ${install[need]}`
}

/**
 * node:test's `skip` option for a test or suite that needs `needs`: the reasons of the unmet ones,
 * or false. Under CI=true always false, so that a missing tool fails the test instead.
 */
export function skipUnless (...needs: Need[]): string | false {
  if (process.env.CI === 'true') return false
  const reasons = needs.map(unmet).filter((reason): reason is string => reason !== undefined)
  return reasons.length === 0 ? false : reasons.join('; ')
}

/** For a lack found only when the test runs (a mount refused): skip with `reason`, or under CI=true fail with it. */
export function skipNow (t: TestContext, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: this test may not be skipped)`)
  t.skip(reason)
}

/** The full path of the program for `need`; throws the reason when it is missing (as under CI). */
export function tool (need: ToolNeed): string {
  const path = locate(need)
  if (path === undefined) throw new Error(`${unmet(need) ?? need}${process.env.CI === 'true' ? ' (CI=true: a missing tool fails the test)' : ''}`)
  return path
}

/** A Chromium to launch: Debian's (or DAMSELFLY_CHROMIUM), else the build @sparticuz/chromium ships. */
export async function chromiumExecutable (): Promise<string> {
  const system = systemChromium()
  if (system !== undefined) return system
  if (!packagedChromium()) throw new Error(unmet('chromium'))
  return await unpackedChromium()
}

/**
 * The packaged build, unpacked once per version under the temp folder. The package unpacks into
 * `os.tmpdir()` and trusts any file it finds there, so it unpacks in a child process whose TMPDIR
 * is a fresh folder, which is then renamed into place: two runs at once, or one killed halfway,
 * never launch half a binary.
 */
async function unpackedChromium (): Promise<string> {
  const manifest = fileURLToPath(new URL('../../package.json', import.meta.resolve('@sparticuz/chromium')))
  const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string }
  const folder = join(tmpdir(), `damselfly-chromium-${version}`)
  if (executable(join(folder, 'chromium'))) return join(folder, 'chromium')
  const staging = await mkdtemp(join(tmpdir(), 'damselfly-chromium-unpack-'))
  try {
    const unpack = "import Chromium from '@sparticuz/chromium'; await Chromium.executablePath()"
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', unpack], { cwd: dirname(manifest), env: { ...process.env, TMPDIR: staging } })
    await rename(staging, folder).catch(() => {}) // another run got there first: use its copy
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  return join(folder, 'chromium')
}

/** What the test launches Chromium with, as root on a machine with no outside network. */
export const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
