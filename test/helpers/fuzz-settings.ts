export interface FuzzSettings {
  seed: number
  totalRuns: number
  /** Cases for one property: its share of the total, never fewer than the floor. */
  runsOf: (share: number) => number
}

/** Fixed seed and size in CI; FUZZ_SEED and FUZZ_RUNS for a longer or different hunt. */
export function fuzzSettings (defaultRuns: number, floor: number): FuzzSettings {
  const totalRuns = Number(process.env.FUZZ_RUNS ?? defaultRuns)
  return {
    seed: Number(process.env.FUZZ_SEED ?? 20261128),
    totalRuns,
    runsOf: share => Math.max(floor, Math.round(totalRuns * share))
  }
}
