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
  /**
   * Run in a boot of its own, for cases that leave the kernel damaged (a failed sPAPR TCE_CREATE makes every later
   * window creation on that PHB fail with ENODEV until reboot, and keeps its locked-memory charge).
   */
  readonly ownBoot?: boolean;
  /** chmod for /dev/vfio nodes in that boot (see RunInGuestOptions.devVfioMode); implies nothing else. */
  readonly devVfioMode?: string;
}

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

export const kernelTestModules: readonly KernelTestModule[] = [
  { name: 'testbed-smoke', path: here('./smoke.ts') },
  { name: 'container-basics', path: here('./cases/container-basics.ts') },
  { name: 'backend-koffi-sequence', path: here('../../backend-koffi/test/kernel/sequence.ts') },
  // The typed API's edu driver (packages/core): identification, factorial, interrupts, DMA through each IOMMU.
  { name: 'core-edu-driver', path: here('../../core/test/kernel/edu-driver.ts') },
  // `vfio-ts demo --backend koffi`, the command users run on a real host.
  { name: 'cli-demo', path: here('../../cli/test/kernel/demo.ts') },
  // Differential conformance: each scenario on the real kernel, then on the simulator's model of the guest, traces
  // compared (packages/conformance). Its own boot: hazardous scenarios are skipped, but a real failure must not spread.
  { name: 'conformance-differential', path: here('../../conformance/test/kernel/conformance.ts'), ownBoot: true },
  // Its own boot with world-accessible /dev/vfio: a child drops to an unprivileged uid for the RLIMIT_MEMLOCK case.
  { name: 'faults', path: here('../kernel-tests/faults/process-faults.ts'), ownBoot: true, devVfioMode: '666' },
];

/** Devices every project guest gets (edu for DMA, e1000 as a second device with a reset). */
export const kernelTestDevices: readonly DeviceModel[] = ['edu', 'e1000'];

/** Boots per guest: every module that shares a boot, in order, then one boot per `ownBoot` module. */
export function planBoots(modules: readonly KernelTestModule[]): KernelTestModule[][] {
  const shared = modules.filter((m) => m.ownBoot !== true);
  return [...(shared.length > 0 ? [shared] : []), ...modules.filter((m) => m.ownBoot === true).map((m) => [m])];
}
