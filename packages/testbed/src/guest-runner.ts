// SPDX-License-Identifier: MIT
/**
 * The guest side: runs kernel test suites in order with one backend and records every case in the results file.
 * This module is bundled into the guest entry; it must not import anything that needs the host.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Backend } from '@vfio-ts/core';
import {
  type KernelTestCase,
  type KernelTestContext,
  KernelTestSkip,
  type KernelTestSuite,
  notApplicable,
  suitesOfModule,
} from './define.js';
import { parseGuestInfo } from './guest-info.js';
import type { KernelTestResults, TestResult } from './results.js';

export interface GuestRunnerOptions {
  /** Creates the backend the suites run against (the koffi backend in the testbed's guests). */
  readonly createBackend: () => Backend | Promise<Backend>;
  /** Where to write results (default `$VFIO_TS_RESULTS`). */
  readonly resultsPath?: string;
  /** Only cases whose `suite/case` name contains this (default `$VFIO_TS_FILTER`). */
  readonly filter?: string;
}

/** Test modules as imported: their name (for suites given as plain records) and their exports. */
export interface TestModule {
  readonly name: string;
  readonly exports: Readonly<Record<string, unknown>>;
}

/** Runs every suite of every module; exits the process with 1 if any case failed, 0 otherwise. */
export async function runGuestSuites(modules: readonly TestModule[], options: GuestRunnerOptions): Promise<number> {
  const resultsPath = options.resultsPath ?? process.env.VFIO_TS_RESULTS;
  if (resultsPath === undefined) throw new Error('VFIO_TS_RESULTS is not set: where should results go?');
  const filter = options.filter ?? process.env.VFIO_TS_FILTER ?? '';
  const infoPath = process.env.VFIO_TS_GUEST_INFO;
  const guest = infoPath !== undefined ? parseGuestInfo(readFileSync(infoPath, 'utf8')) : undefined;
  const arch = process.env.VFIO_TS_GUEST_ARCH ?? process.arch;

  let backend: Backend | undefined;
  let backendError: unknown;
  const suites = modules.flatMap((m) => suitesOfModule(m.name, m.exports));
  if (suites.some((s) => s.needsBackend)) {
    try {
      backend = await options.createBackend();
    } catch (error) {
      backendError = error;
    }
  }
  const results: KernelTestResults = {
    format: 'vfio-ts-kernel-tests/1',
    arch,
    backend: backend?.name ?? (backendError !== undefined ? 'unavailable' : 'none'),
    node: process.version,
    kernel: guest?.kernelVersion ?? '',
    complete: false,
    suites: [],
  };
  const save = (): void => saveDurably(resultsPath, `${JSON.stringify(results, null, 1)}\n`);
  let failed = 0;

  for (const suite of suites) {
    const suiteResult = { name: suite.name, tests: [] as TestResult[] };
    results.suites.push(suiteResult);
    for (const testCase of suite.cases) {
      const full = `${suite.name}/${testCase.name}`;
      if (filter !== '' && !full.includes(filter)) continue;
      // Cases written for another ABI are not tests of this guest: leave them out rather than list them as skips.
      if (testCase.arches !== undefined && !testCase.arches.includes(backend?.arch ?? arch)) continue;
      const result: TestResult = { name: testCase.name, status: 'running' };
      suiteResult.tests.push(result);
      // Written before the case starts, so a case that oopses or wedges the kernel is named in what is left.
      save();
      const started = performance.now();
      const skipReason = notApplicable(suite, testCase, 'kernel', backend?.arch ?? arch);
      if (skipReason !== undefined) {
        Object.assign(result, { status: 'skipped', reason: skipReason });
      } else if (suite.needsBackend && backend === undefined) {
        Object.assign(result, { status: 'failed', error: describe(backendError, 'cannot create the backend: ') });
      } else {
        await runCase(suite, testCase, backend as Backend, {
          target: 'kernel',
          arch: backend?.arch ?? arch,
          devices: guest?.devices ?? [],
          skip: (reason) => {
            throw new KernelTestSkip(reason);
          },
          log: (message) => {
            console.log(`    ${message}`);
            result.log = [...(result.log ?? []), message];
          },
        }).then(
          () => Object.assign(result, { status: 'passed' }),
          (error: unknown) =>
            error instanceof KernelTestSkip
              ? Object.assign(result, { status: 'skipped', reason: error.reason })
              : Object.assign(result, { status: 'failed', error: describe(error) }),
        );
      }
      result.durationMs = Math.round(performance.now() - started);
      if (result.status === 'failed') failed++;
      const mark = { passed: 'ok  ', failed: 'FAIL', skipped: 'skip', running: '....' }[result.status];
      const why =
        result.status === 'failed' ? `: ${result.error?.message}` : result.reason ? ` (${result.reason})` : '';
      console.log(`[vfio-ts] ${mark} ${full} ${result.durationMs} ms${why}`);
    }
  }
  results.complete = true;
  save();
  return failed > 0 ? 1 : 0;
}

async function runCase(
  suite: KernelTestSuite,
  testCase: KernelTestCase,
  backend: Backend,
  ctx: KernelTestContext,
): Promise<void> {
  const timeoutMs = testCase.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${suite.name}/${testCase.name} did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([Promise.resolve().then(() => testCase.run(backend, ctx)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(error: unknown, prefix = ''): { message: string; code?: string; stack?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      message: `${prefix}${error.message}`,
      ...(typeof code === 'string' ? { code } : {}),
      ...(error.stack !== undefined ? { stack: error.stack } : {}),
    };
  }
  return { message: `${prefix}${String(error)}` };
}

/** The run share is a cached 9p mount: fsync so the host sees the file even if the kernel dies in the next case. */
function saveDurably(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
