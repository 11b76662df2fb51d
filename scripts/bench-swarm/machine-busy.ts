/**
 * The whole machine's busy share over short intervals of a round (/proc/stat, every process).
 *
 * Why beside the round's average: the average hid that the CPU bound. An N = 8 round whose
 * machine was 76 % busy on average spent its first ten seconds at 80–100 % (5 ms samples), and
 * the hosts' uplinks dipped where it touched 100 %. A round is link-bound only if the machine
 * was short of saturated all along, so the report gives the share of intervals at or above
 * {@link saturatedShare}.
 */
import { machineCpuSeconds } from '../lib/proc.js'
import { round } from '../lib/stats.js'

/** An interval at or above this busy share counts as saturated (a 2-core machine leaves ~0.1 core of slack). */
export const saturatedShare = 0.9

export interface MachineBusy {
  /** Busy ÷ total CPU time of each interval, in order. */
  intervals: number[]
  /** The share of intervals at or above {@link saturatedShare}. */
  saturatedShare: number
}

/** Samples /proc/stat every `intervalMs` until `stop`, which returns each interval's busy share. */
export function startMachineBusy (intervalMs: number): { stop: () => Promise<MachineBusy> } {
  const readings: Array<Promise<{ busy: number, total: number }>> = [machineCpuSeconds()]
  const timer = setInterval(() => { readings.push(machineCpuSeconds()) }, intervalMs)
  return {
    stop: async () => {
      clearInterval(timer)
      readings.push(machineCpuSeconds())
      const values = await Promise.all(readings)
      const intervals: number[] = []
      for (let index = 1; index < values.length; index++) {
        const total = values[index]!.total - values[index - 1]!.total
        // An interval cut short at the end has too few ticks (100 Hz) to say anything.
        if (total * 1000 < intervalMs / 2) continue
        intervals.push(round((values[index]!.busy - values[index - 1]!.busy) / total, 3))
      }
      const saturated = intervals.filter(share => share >= saturatedShare).length
      return { intervals, saturatedShare: intervals.length === 0 ? 0 : round(saturated / intervals.length, 3) }
    }
  }
}
