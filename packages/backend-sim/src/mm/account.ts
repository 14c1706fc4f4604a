// SPDX-License-Identifier: MIT
import { errnoNumber } from '@vfio-ts/uapi';
import type { Process } from './process.js';

const ENOMEM = errnoNumber('ENOMEM');

/**
 * @see mm/util.c __account_locked_vm
 * `bypassRlim` is the capability captured by the caller (type1 captures CAP_IPC_LOCK at MAP time).
 */
export function accountLockedVmBypass(mm: Process, npages: number, inc: boolean, bypassRlim: boolean): number {
  if (npages === 0) return 0;
  if (inc) {
    if (mm.kernel.hooks.shouldFail('account_locked_vm')) return -ENOMEM;
    const locked = BigInt(mm.lockedVm + npages);
    const limit = mm.rlimitMemlock >> BigInt(Math.log2(mm.pageSize));
    if (!bypassRlim && locked > limit) return -ENOMEM;
    mm.lockedVm += npages;
  } else {
    // The kernel WARNs and clamps; a negative count here is a simulator bug, surfaced by the invariant tests.
    mm.lockedVm -= npages;
  }
  return 0;
}

/** @see mm/util.c account_locked_vm */
export function accountLockedVm(mm: Process, npages: number, inc: boolean): number {
  return accountLockedVmBypass(mm, npages, inc, mm.capIpcLock);
}
