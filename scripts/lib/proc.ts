import { readFile } from 'node:fs/promises'

/**
 * A process's peak resident set so far, in bytes: the kernel's high-water mark (VmHWM), so no
 * sampling can miss a short peak. Read it before the process exits; 0 once it is gone.
 */
export async function peakRssBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}
