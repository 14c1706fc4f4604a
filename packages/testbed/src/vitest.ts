// SPDX-License-Identifier: MIT
/**
 * `@vfio-ts/testbed/vitest`: registers a kernel test suite as vitest tests against a backend on the host (the
 * simulator), so that the file the testbed runs on real kernels is also part of `npm test`.
 */
import type { Backend } from '@vfio-ts/core';
import { describe, it } from 'vitest';
import { type KernelTestSuite, notApplicable } from './define.js';
import type { GuestDevice } from './devices.js';

export interface DescribeKernelTestsOptions {
  /** A fresh backend for each case (a new simulated kernel, so cases cannot leak state into each other). */
  readonly backend: () => Backend | Promise<Backend>;
  /** The devices that backend has bound to vfio-pci, as the testbed's guests report them. */
  readonly devices: readonly GuestDevice[];
  /** Shown in the describe block, e.g. the simulator's platform profile. */
  readonly label?: string;
}

export function describeKernelTests(suite: KernelTestSuite, options: DescribeKernelTestsOptions): void {
  describe(`${suite.name} [${options.label ?? 'sim'}]`, () => {
    for (const testCase of suite.cases) {
      it(testCase.name, async (t) => {
        const backend = await options.backend();
        const reason = notApplicable(suite, testCase, 'sim', backend.arch);
        if (reason !== undefined) t.skip(reason);
        await testCase.run(backend, {
          target: 'sim',
          arch: backend.arch,
          devices: options.devices,
          skip: (why) => t.skip(why),
          log: () => {},
        });
      });
    }
  });
}
