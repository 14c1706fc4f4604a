// SPDX-License-Identifier: MIT
import type { Backend } from '@vfio-ts/core';
import type { GuestDevice } from './devices.js';

/** Where a case runs: against the simulator on the host, or against a real kernel in a guest. */
export type KernelTestTarget = 'sim' | 'kernel';

export interface KernelTestContext {
  readonly target: KernelTestTarget;
  /** The ABI being spoken (`backend.arch`, or the guest's arch for checks without a backend). */
  readonly arch: string;
  /** Devices bound to vfio-pci (in a guest: as init bound them; on the host: as the simulator's caller says). */
  readonly devices: readonly GuestDevice[];
  /** Ends the case as skipped, with the reason reported. */
  skip(reason: string): never;
  log(message: string): void;
}

export type KernelTestFn = (backend: Backend, ctx: KernelTestContext) => void | Promise<void>;
/** A check that needs a real guest but no Backend (sysfs, /proc, raw koffi). */
export type GuestCheckFn = (ctx: KernelTestContext) => void | Promise<void>;

export interface KernelTestCase {
  readonly name: string;
  readonly run: KernelTestFn;
  /**
   * Restricts the case to one target: `'sim'` for what must never reach a real kernel (the sPAPR MAP_DMA past a
   * window's end oopses 6.12), `'kernel'` for what the simulator does not model.
   */
  readonly only?: KernelTestTarget;
  /** ABIs the case applies to (`'x86_64'`, `'ppc64le'`, …); skipped elsewhere with a reason. Default: all. */
  readonly arches?: readonly string[];
  /** Per-case bound in the guest runner (default 60 s). A synchronous hang is caught by the guest's timeout. */
  readonly timeoutMs?: number;
}

export const suiteKind = 'vfio-ts-kernel-tests';

export interface KernelTestSuite {
  readonly kind: typeof suiteKind;
  readonly name: string;
  /** `false` for guest checks, which get no Backend and never run on the simulator. */
  readonly needsBackend: boolean;
  readonly cases: readonly KernelTestCase[];
}

type CaseInput = KernelTestFn | Omit<KernelTestCase, 'name'>;

/**
 * Declares cases that run unchanged against `@vfio-ts/backend-sim` (in `npm test`, through
 * `describeKernelTests` from `@vfio-ts/testbed/vitest`) and against `@vfio-ts/backend-koffi` on real kernels
 * in the testbed's guests. Cases run in order, in one process per guest boot: put cases that damage kernel state
 * (a failed TCE_CREATE poisons the PHB until reboot) last.
 */
export function defineKernelTests(name: string, cases: Readonly<Record<string, CaseInput>>): KernelTestSuite {
  return {
    kind: suiteKind,
    name,
    needsBackend: true,
    cases: Object.entries(cases).map(([caseName, input]) =>
      typeof input === 'function' ? { name: caseName, run: input } : { ...input, name: caseName },
    ),
  };
}

/** Declares real-guest-only checks that do not go through a Backend. */
export function defineGuestChecks(name: string, checks: Readonly<Record<string, GuestCheckFn>>): KernelTestSuite {
  return {
    kind: suiteKind,
    name,
    needsBackend: false,
    cases: Object.entries(checks).map(([caseName, fn]) => ({
      name: caseName,
      only: 'kernel' as const,
      run: (_backend: Backend, ctx: KernelTestContext) => fn(ctx),
    })),
  };
}

export function isKernelTestSuite(value: unknown): value is KernelTestSuite {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === suiteKind;
}

/**
 * The suites a test module offers: every exported `defineKernelTests` result, or else a plain record of
 * `(backend) => Promise<void>` cases as `cases` or the default export (named after the module).
 */
export function suitesOfModule(moduleName: string, exports: Readonly<Record<string, unknown>>): KernelTestSuite[] {
  const suites = Object.values(exports).filter(isKernelTestSuite);
  if (suites.length > 0) return [...new Set(suites)];
  const record = exports.cases ?? exports.default;
  if (typeof record === 'object' && record !== null) {
    const fns = Object.entries(record).filter((e): e is [string, KernelTestFn] => typeof e[1] === 'function');
    if (fns.length > 0) return [defineKernelTests(moduleName, Object.fromEntries(fns))];
  }
  return [];
}

/** Thrown by `ctx.skip()`. */
export class KernelTestSkip extends Error {
  override readonly name = 'KernelTestSkip';
  readonly reason: string;
  constructor(reason: string) {
    super(`skipped: ${reason}`);
    this.reason = reason;
  }
}

/** Why a case does not apply to a target and ABI, or undefined when it does. */
export function notApplicable(
  suite: KernelTestSuite,
  testCase: KernelTestCase,
  target: KernelTestTarget,
  arch: string,
): string | undefined {
  if (target === 'sim' && !suite.needsBackend) return 'a guest check: needs a real kernel';
  if (testCase.only !== undefined && testCase.only !== target) {
    return testCase.only === 'sim' ? 'simulator only (unsafe on a real kernel)' : 'real kernel only';
  }
  if (testCase.arches !== undefined && !testCase.arches.includes(arch)) {
    return `only on ${testCase.arches.join(', ')} (this is ${arch})`;
  }
  return undefined;
}

/**
 * For kernel test cases: `fn` must fail with the Node-style system error `code` (`'EINVAL'`); success or another
 * error fails the case, saying what happened instead.
 */
export async function expectErrno(code: string, what: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if ((error as { code?: unknown }).code === code) return;
    throw new Error(`${what}: expected ${code}, got ${(error as Error).message}`);
  }
  throw new Error(`${what}: expected ${code}, but it succeeded`);
}
