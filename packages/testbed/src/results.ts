// SPDX-License-Identifier: MIT

/** The JSON a guest entry writes to `$VFIO_TS_RESULTS` (the runner rewrites it after every case). */
export interface KernelTestResults {
  readonly format: 'vfio-ts-kernel-tests/1';
  readonly arch: string;
  readonly backend: string;
  readonly node: string;
  readonly kernel: string;
  /** `true` once every case has run; a crash or hang leaves `false` and the last case `running`. */
  complete: boolean;
  readonly suites: SuiteResult[];
}

export interface SuiteResult {
  readonly name: string;
  readonly tests: TestResult[];
}

export type TestStatus = 'passed' | 'failed' | 'skipped' | 'running';

export interface TestResult {
  readonly name: string;
  status: TestStatus;
  durationMs?: number;
  /** For `failed`: the error's message, code and stack. */
  error?: { readonly message: string; readonly code?: string; readonly stack?: string };
  /** For `skipped`. */
  reason?: string;
  /** What the case said through `ctx.log` (measurements, counts), shown by `test-kernel` under the case. */
  log?: string[];
}

export interface ResultSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Cases left `running`: the guest crashed or hung in them. */
  readonly interrupted: number;
}

export function summarize(results: KernelTestResults): ResultSummary {
  const all = results.suites.flatMap((s) => s.tests);
  const count = (status: TestStatus): number => all.filter((t) => t.status === status).length;
  return { passed: count('passed'), failed: count('failed'), skipped: count('skipped'), interrupted: count('running') };
}

export function isKernelTestResults(value: unknown): value is KernelTestResults {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { format?: unknown }).format === 'vfio-ts-kernel-tests/1' &&
    Array.isArray((value as { suites?: unknown }).suites)
  );
}
