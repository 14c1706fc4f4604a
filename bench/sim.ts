// SPDX-License-Identifier: MIT
/**
 * The simulator against the real kernel path, in one process: ns per small ioctl through the simulator's Backend
 * (VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION: `packages/backend-sim/bench/sim.ts`) as a ratio to the koffi
 * backend's ns per ioctl on this host (FIONREAD on a pipe, measured in the same run by
 * `packages/backend-koffi/bench/ioctl.ts`), and the sPAPR bulk figures (`packages/backend-sim/bench/spapr.ts`:
 * TCEs mapped per second, heap for a 1 TiB window empty and with 1 GiB mapped; exact only under --expose-gc).
 */
import type { IoctlBenchResult } from '../packages/backend-koffi/bench/ioctl.js';
import { benchSim, type SimBenchResult } from '../packages/backend-sim/bench/sim.js';
import { benchSpapr, type SpaprBenchResult } from '../packages/backend-sim/bench/spapr.js';

export interface SimVsKoffiResult {
  readonly sim: SimBenchResult;
  readonly spapr: SpaprBenchResult;
  /** Simulator ns per GET_API_VERSION / koffi backend ns per FIONREAD (same run). */
  readonly simToKoffi: number | undefined;
  readonly koffiNsPerIoctl: number | undefined;
}

export async function benchSimVsKoffi(koffi: IoctlBenchResult | undefined): Promise<SimVsKoffiResult> {
  const sim = await benchSim({ profile: 'x86_64-q35' });
  const spapr = await benchSpapr();
  const koffiNs = koffi?.backendIoctl.nsPerCall;
  return {
    sim,
    spapr,
    koffiNsPerIoctl: koffiNs,
    simToKoffi: koffiNs === undefined ? undefined : sim.nsPerSimpleIoctl / koffiNs,
  };
}
