// SPDX-License-Identifier: MIT
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestbedError } from './errors.js';
import { resolveGuest } from './guests.js';
import type { KernelTestModule } from './kernel-tests.js';
import { packageDir } from './paths.js';
import { isKernelTestResults, type KernelTestResults } from './results.js';
import { type GuestRun, type RunInGuestOptions, runInGuest } from './run.js';

/** Which guest: `guest`, or `arch` for that architecture's first guest (see guests.ts). */
export interface RunKernelTestsOptions extends Omit<RunInGuestOptions, 'entry'> {
  readonly modules: readonly KernelTestModule[];
  /** Only cases whose `suite/case` contains this. */
  readonly filter?: string;
  /**
   * The module that provides `createKoffiBackend()` in the guest (default `@vfio-ts/backend-koffi`). When it cannot
   * be resolved on the host, cases that need a backend fail with that reason; guest checks still run.
   */
  readonly backendModule?: string;
}

export interface KernelTestRun extends GuestRun {
  readonly results: KernelTestResults;
}

/** The guest entry's source: imports each module and hands them to the guest runner. */
export function guestEntrySource(modules: readonly KernelTestModule[], backendModule: string): string {
  // The runner next to this file: src/*.ts inside the repo, dist/*.js when installed.
  const runner = fileURLToPath(new URL(`./guest-runner${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  const lines = [`import { runGuestSuites } from ${JSON.stringify(runner)};`];
  for (const [i, m] of modules.entries()) lines.push(`import * as m${i} from ${JSON.stringify(m.path)};`);
  const list = modules.map((m, i) => `{ name: ${JSON.stringify(m.name)}, exports: m${i} }`).join(', ');
  lines.push(
    `process.exitCode = await runGuestSuites([${list}], {`,
    `  createBackend: async () => (await import(${JSON.stringify(backendModule)})).createKoffiBackend(),`,
    '});',
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Boots one guest and runs the given test modules with the koffi backend in it. The guest's results are returned
 * even when cases failed; a boot failure, a hang, or a guest that died mid-run (results incomplete) throws.
 */
export async function runKernelTests(options: RunKernelTestsOptions): Promise<KernelTestRun> {
  const { modules, filter, backendModule = '@vfio-ts/backend-koffi', ...rest } = options;
  for (const m of modules) {
    if (!existsSync(m.path))
      throw new TestbedError('VFIO_TS_TESTBED_BUNDLE', `test module ${m.name} not found at ${m.path}`);
  }
  const run = await runInGuest({
    ...rest,
    entry: { contents: guestEntrySource(modules, backendModule), resolveDir: packageDir },
    // Work in progress elsewhere in the monorepo must not stop the guest checks from running: a package that does
    // not resolve yet becomes a module that throws when (lazily) loaded, failing only the cases that need it.
    optional: [backendModule, '@vfio-ts/core', '@vfio-ts/uapi', ...(rest.optional ?? [])],
    env: { ...(filter !== undefined ? { VFIO_TS_FILTER: filter } : {}), ...rest.env },
  });
  if (!isKernelTestResults(run.results)) {
    throw new TestbedError(
      'VFIO_TS_TESTBED_RESULTS',
      `the ${resolveGuest(options)} guest entry exited with ${run.exitCode} without writing kernel test results; run directory ${run.runDir}`,
      { consoleTail: run.console.split('\n').slice(-40).join('\n') },
    );
  }
  return { ...run, results: run.results };
}
