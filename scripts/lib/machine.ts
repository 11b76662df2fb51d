import { cpus, loadavg, release, totalmem } from 'node:os'

/** What a result was measured on; the load average shows how contended the machine was. */
export interface MachineInfo {
  cpu: string
  cores: number
  memoryGB: number
  kernel: string
  node: string
  loadAverage: number[]
}

export function machineInfo (): MachineInfo {
  const list = cpus()
  return {
    cpu: list[0]?.model ?? 'unknown',
    cores: list.length,
    memoryGB: Math.round(totalmem() / 1e9),
    kernel: release(),
    node: process.version,
    loadAverage: loadavg().map(value => Math.round(value * 100) / 100)
  }
}
