// SPDX-License-Identifier: MIT
/**
 * Fail-nth over named fault sites (≙ the kernel's fail_nth + iommufd selftest sweeps): the nth time any of the
 * chosen sites is reached it fails, once. Sites: 'kzalloc', 'pin_user_pages', 'account_locked_vm', 'iommu_map',
 * 'mmap', and the sPAPR driver's own ('iommu_table_alloc', ...).
 */
import type { KernelController, SimKernel } from '../kernel.js';

export interface FailNth {
  /** Every site reached while attached, in order. */
  readonly hits: string[];
  /** Whether the nth hit happened (a sweep ends when it no longer does). */
  readonly fired: boolean;
  detach(): void;
}

export function failNth(kernel: SimKernel, nth: number, sites?: readonly string[]): FailNth {
  const hits: string[] = [];
  let fired = false;
  const controller: KernelController = {
    shouldFail(site) {
      if (sites !== undefined && !sites.includes(site)) return false;
      hits.push(site);
      if (hits.length === nth) {
        fired = true;
        return true;
      }
      return false;
    },
  };
  const detach = kernel.hooks.attach(controller);
  return {
    hits,
    get fired() {
      return fired;
    },
    detach,
  };
}
