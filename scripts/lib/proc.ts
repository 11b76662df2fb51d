import { readFile } from 'node:fs/promises'

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
