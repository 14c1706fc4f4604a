// SPDX-License-Identifier: MIT
/**
 * The project's real-kernel test modules, run by `npm run test:kernel` in every guest, in this order, in one node
 * process per boot. A module exports `defineKernelTests(...)` suites (or a plain record of
 * `(backend) => Promise<void>` cases as `cases`/default). Register a module by adding it here; put modules whose
 * cases damage kernel state last.
 */
import { fileURLToPath } from 'node:url';
import type { DeviceModel } from './devices.js';
import type { GuestArch } from './paths.js';

export interface KernelTestModule {
  /** Name in reports (and of a suite given as a plain record). */
  readonly name: string;
  /** Absolute path of the module on the host; it is bundled into the guest entry. */
  readonly path: string;
  /** Guests it runs in (default: all). */
  readonly arches?: readonly GuestArch[];
}

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

export const kernelTestModules: readonly KernelTestModule[] = [
  { name: 'testbed-smoke', path: here('./smoke.ts') },
  { name: 'container-basics', path: here('./cases/container-basics.ts') },
  { name: 'backend-koffi-sequence', path: here('../../backend-koffi/test/kernel/sequence.ts') },
];

/** Devices every project guest gets (edu for DMA, e1000 as a second device with a reset). */
export const kernelTestDevices: readonly DeviceModel[] = ['edu', 'e1000'];
