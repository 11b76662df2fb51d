import { readdir, readFile } from 'node:fs/promises'

/**
 * A process's peak resident set so far, in bytes: the kernel's high-water mark (VmHWM), so no
 * sampling can miss a short peak. Read it before the process exits; 0 once it is gone.
 */
export async function peakRssBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** The kernel's clock ticks per second for /proc/PID/stat times (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100

/**
 * CPU seconds (user + system, all threads) a process has used so far; NaN once it is gone.
 * Differences over a window give its CPU use, which stays true on a loaded machine (a process
 * waiting for a core uses none).
 */
export async function cpuSeconds (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (stat === undefined) return NaN
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** A process's resident set now, in bytes; 0 once it is gone. */
export async function currentRssBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** The fields of /proc/PID/stat after the command name (which may hold spaces); undefined once gone. */
async function statFields (pid: number | 'self'): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/**
 * CPU seconds (user + system) of a process and everything under it: its own threads, the
 * children it has waited for (cutime + cstime) and its live descendants, each counted the same
 * way. NaN once the process is gone. Take differences over a window, as with {@link cpuSeconds}.
 */
export async function treeCpuSeconds (pid: number | 'self'): Promise<number> {
  const own = await statFields(pid)
  if (own === undefined) return NaN
  // Fields (0-based after the name): 1 ppid, 11 utime, 12 stime, 13 cutime, 14 cstime.
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])
  const self = pid === 'self' ? process.pid : pid
  const parents = new Map<number, number[]>()
  const entries = await readdir('/proc').catch(() => [] as string[])
  const all = await Promise.all(entries.filter(name => /^\d+$/.test(name)).map(async name => [Number(name), await statFields(Number(name))] as const))
  for (const [child, fields] of all) {
    if (fields === undefined) continue
    const parent = Number(fields[1])
    parents.set(parent, [...(parents.get(parent) ?? []), child])
  }
  const byPid = new Map(all)
  const queue = [...(parents.get(self) ?? [])]
  while (queue.length > 0) {
    const child = queue.shift()!
    const fields = byPid.get(child)
    if (fields !== undefined) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
    queue.push(...(parents.get(child) ?? []))
  }
  return ticks / ticksPerSecond
}

/** The machine's CPU time so far, all cores: busy and total seconds (from /proc/stat's first line). */
export async function machineCpuSeconds (): Promise<{ busy: number, total: number }> {
  const text = await readFile('/proc/stat', 'utf8')
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const ticks = (text.split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((sum, value) => sum + value, 0)
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
  return { busy: (total - idle) / ticksPerSecond, total: total / ticksPerSecond }
}

/**
 * CPU seconds of this process's children that it has already waited for (its cutime + cstime):
 * the difference over a window is what its short-lived children (e.g. curl) used in it.
 */
export async function reapedChildrenCpuSeconds (): Promise<number> {
  const fields = await statFields('self')
  return fields === undefined ? NaN : (Number(fields[13]) + Number(fields[14])) / ticksPerSecond
}
