// SPDX-License-Identifier: MIT
/** Shared timing: median ns per operation over rounds, after a warm-up, all in this process. */
export interface Measurement {
  readonly nsPerOp: number;
  readonly rounds: readonly number[];
}

export function measure(fn: () => void, options: { iterations?: number; rounds?: number } = {}): Measurement {
  const iterations = options.iterations ?? 200_000;
  const roundCount = options.rounds ?? 7;
  for (let i = 0; i < Math.min(iterations, 50_000); i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < roundCount; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  const sorted = [...rounds].sort((a, b) => a - b);
  return { nsPerOp: sorted[Math.floor(sorted.length / 2)]!, rounds };
}
