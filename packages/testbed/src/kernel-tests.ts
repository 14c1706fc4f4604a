// SPDX-License-Identifier: MIT
/**
 * The project's real-kernel test modules, run by `npm run test:kernel` in every guest they are registered for, in
 * this order, in one node process per boot. A module exports `defineKernelTests(...)` suites (or a plain record of
 * `(backend) => Promise<void>` cases as `cases`/default). Register a module by adding it here; put modules whose
 * cases damage kernel state last.
 */
import { fileURLToPath } from 'node:url';
import type { DeviceModel } from './devices.js';
import { type GuestName, guestArch } from './guests.js';
import type { GuestArch } from './paths.js';

export interface KernelTestModule {
  /** Name in reports (and of a suite given as a plain record). */
  readonly name: string;
  /** Absolute path of the module on the host; it is bundled into the guest entry. */
  readonly path: string;
  /** Guests it runs in (default: all). A guest left out is reported as such by `test-kernel`, never silently. */
  readonly guests?: readonly GuestName[];
  /** Architectures it runs on (default: all), for modules that only speak one ABI. */
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
  // The VFIO device cdev and /dev/iommu (scenarios 65-66). Everywhere: on kernels without them (6.1, sPAPR) every
  // case is skipped with that reason, which is itself a check that the guest is what the simulator thinks.
  { name: 'cdev', path: here('../kernel-tests/cdev/cdev.ts') },
  // iommufd IOAS_* through a bound cdev (scenario 67), incl. edu DMA through an IOAS. Skips where cdev is absent.
  { name: 'iommufd-ioas', path: here('../kernel-tests/iommufd/ioas.ts') },
  { name: 'backend-koffi-sequence', path: here('../../backend-koffi/test/kernel/sequence.ts') },
  // The typed API's edu driver (packages/core): identification, factorial, interrupts, DMA through each IOMMU.
  { name: 'core-edu-driver', path: here('../../core/test/kernel/edu-driver.ts') },
  // `vfio-ts demo --backend koffi`, the command users run on a real host.
  { name: 'cli-demo', path: here('../../cli/test/kernel/demo.ts') },
  // Differential conformance: each scenario on the real kernel, then on the simulator's model of the guest, traces
  // compared (packages/conformance). Its own boot: hazardous scenarios are skipped, but a real failure must not spread.
  // In every guest: on x86_64-6.12 it is what holds the simulator's 6.12 profile to a real 6.12 kernel (about 20 s).
  { name: 'conformance-differential', path: here('../../conformance/test/kernel/conformance.ts'), ownBoot: true },
  // Its own boot with world-accessible /dev/vfio: a child drops to an unprivileged uid for the RLIMIT_MEMLOCK case.
  // Not in x86_64-6.12, to keep to two boots there: its type1 fault paths are the same code as on 6.1.
  {
    name: 'faults',
    path: here('../kernel-tests/faults/process-faults.ts'),
    ownBoot: true,
    devVfioMode: '666',
    guests: ['x86_64', 'ppc64le'],
  },
];

/** Why a module does not run in a guest, or undefined when it does. */
export function moduleNotInGuest(module: KernelTestModule, guest: GuestName): string | undefined {
  if (module.guests !== undefined && !module.guests.includes(guest)) {
    return `registered for ${module.guests.join(', ')} only`;
  }
  if (module.arches !== undefined && !module.arches.includes(guestArch(guest))) {
    return `registered for ${module.arches.join(', ')} only`;
  }
  return undefined;
}

export interface GuestModulePlan {
  /** The modules that run in the guest, in registration order. */
  readonly run: KernelTestModule[];
  /** Selected modules that do not run there, and why. */
  readonly notRun: { readonly module: KernelTestModule; readonly reason: string }[];
  /** The filter to hand to the guest runner: undefined when it named modules (they run whole). */
  readonly caseFilter: string | undefined;
}

/**
 * Which modules one guest runs for a `--filter`: a filter that names registered modules (in any guest) selects
 * those modules whole; any other filter selects cases by `suite/case` name inside every module of the guest.
 */
export function planGuestModules(
  modules: readonly KernelTestModule[],
  guest: GuestName,
  filter: string | undefined,
): GuestModulePlan {
  const named = filter === undefined ? [] : modules.filter((m) => m.name.includes(filter));
  const selected = named.length > 0 ? named : modules;
  const run: KernelTestModule[] = [];
  const notRun: { module: KernelTestModule; reason: string }[] = [];
  for (const m of selected) {
    const reason = moduleNotInGuest(m, guest);
    if (reason === undefined) run.push(m);
    else notRun.push({ module: m, reason });
  }
  return { run, notRun, caseFilter: named.length > 0 ? undefined : filter };
}

/** Devices every project guest gets (edu for DMA, e1000 as a second device with a reset). */
export const kernelTestDevices: readonly DeviceModel[] = ['edu', 'e1000'];

/** Boots per guest: every module that shares a boot, in order, then one boot per `ownBoot` module. */
export function planBoots(modules: readonly KernelTestModule[]): KernelTestModule[][] {
  const shared = modules.filter((m) => m.ownBoot !== true);
  return [...(shared.length > 0 ? [shared] : []), ...modules.filter((m) => m.ownBoot === true).map((m) => [m])];
}
