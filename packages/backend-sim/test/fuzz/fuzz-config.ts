// SPDX-License-Identifier: MIT
/**
 * Run counts and failure reports shared by the seeded fuzzers. `VFIO_TS_FUZZ_RUNS` scales every fuzzer (runs per
 * property); `VFIO_TS_FUZZ_SEED` replays one seed. A failure prints fast-check's seed and path plus the shrunk
 * counterexample as a readable call list.
 */
import fc from 'fast-check';

export const DEFAULT_SEED = 0x7f1d;

export function fuzzRuns(ciDefault: number): number {
  const env = process.env.VFIO_TS_FUZZ_RUNS;
  if (env === undefined || env === '') return ciDefault;
  const n = Number(env);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`VFIO_TS_FUZZ_RUNS must be a positive integer, got ${env}`);
  return n;
}

export function fuzzSeed(): number {
  const env = process.env.VFIO_TS_FUZZ_SEED;
  return env === undefined || env === '' ? DEFAULT_SEED : Number(env);
}

/**
 * fc.check with the project's reporting: prints how many inputs were tried; on failure throws an error carrying
 * the seed, the path (for `fc.assert(..., {seed, path})` replay) and `describe(counterexample)`, the shrunk calls.
 */
export function checkProperty<T>(
  label: string,
  arb: fc.Arbitrary<T>,
  predicate: (value: T) => void,
  options: { runs: number; describe: (value: T) => string[] },
): { runs: number } {
  const seed = fuzzSeed();
  const details = fc.check(
    fc.property(arb, (v) => {
      predicate(v);
    }),
    { seed, numRuns: options.runs },
  );
  console.log(`${label}: ${details.numRuns} inputs tried (seed ${seed}${details.failed ? ', FAILED' : ''})`);
  if (details.failed) {
    const ce = details.counterexample?.[0] as T | undefined;
    const calls = ce === undefined ? ['(no counterexample)'] : options.describe(ce);
    const message = [
      `${label} failed after ${details.numRuns} inputs (${details.numShrinks} shrinks)`,
      `replay: VFIO_TS_FUZZ_SEED=${details.seed} (fast-check seed ${details.seed}, path "${details.counterexamplePath}")`,
      `error: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`,
      'minimal call list:',
      ...calls.map((c, i) => `  ${i + 1}. ${c}`),
    ].join('\n');
    console.error(message);
    throw new Error(message);
  }
  return { runs: details.numRuns };
}
