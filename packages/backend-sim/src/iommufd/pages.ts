// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/iommu/iommufd/pages.c (6.12): `struct iopt_pages`, the PFN provider behind one or more areas. Pages are
 * pinned only while some iommu_domain stores them (an IOAS without an attached HWPT holds a lazy reference to the
 * user VA and pins nothing), exactly once per page index however many areas and domains use it, and the pin is
 * accounted after the whole range is pinned (pfn_reader_user_update_pinned): a hole gives EFAULT before the limit can
 * give ENOMEM, unlike type1's page-by-page charge.
 *
 * Accounting modes (iopt_alloc_pages, iopt_map_user_pages): a mapper with CAP_IPC_LOCK gets NONE; otherwise USER
 * (the default of /dev/iommu) charges the *user's* `locked_vm` against the mapping task's RLIMIT_MEMLOCK
 * (incr_user_locked_vm), or MM (IOMMU_OPTION_RLIMIT_MODE = 1) charges the mm's `locked_vm` as type1 does
 * (update_mm_locked_vm → __account_locked_vm). Every mode adds the pins to the source mm's `pinned_vm`.
 */
import { errnoNumber } from '@vfio-ts/uapi';
import type { SimKernel } from '../kernel.js';
import { accountLockedVmBypass } from '../mm/account.js';
import type { SimPage } from '../mm/memory.js';
import type { Process } from '../mm/process.js';

const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');
const ENOMEM = errnoNumber('ENOMEM');
const EOVERFLOW = errnoNumber('EOVERFLOW');

/** ULONG_MAX and SIZE_MAX of the 64-bit kernels iommufd is simulated on (x86_64). */
export const ULONG_MAX = 2n ** 64n - 1n;

/** ≙ enum iopt_pages_account_mode (IOPT_PAGES_ACCOUNT_NONE / _USER / _MM). */
export type IoptPagesAccountMode = 'none' | 'user' | 'mm';

/**
 * ≙ the `locked_vm` of a `struct user_struct` (kernel/user.c). Processes carry no uid in this simulation: they all
 * run as one user, so iommufd's USER accounting of one process counts against every other's RLIMIT_MEMLOCK.
 */
export class UserStruct {
  lockedVm = 0;
}

const userStructs = new WeakMap<SimKernel, UserStruct>();

/** ≙ current_user(): the one user every simulated process runs as. */
export function currentUser(k: SimKernel): UserStruct {
  let user = userStructs.get(k);
  if (user === undefined) {
    user = new UserStruct();
    userStructs.set(k, user);
  }
  return user;
}

/** ≙ struct iopt_pages */
export class IoptPages {
  /** ≙ kref: one per area (and per IOAS_COPY list element) using it. */
  refs = 1;
  /** Pinned pages by index (≙ what the storage domain and pinned_pfns hold). */
  readonly pinned = new Map<number, SimPage>();
  /** How many filled areas hold each index (≙ pages->domains_itree); an index is pinned iff this is > 0. */
  readonly storageUsers = new Map<number, number>();
  npinned = 0;
  /** ≙ last_npinned: what the accounting was last told. */
  lastNpinned = 0;

  constructor(
    readonly kernel: SimKernel,
    /** ≙ pages->uptr: the user VA aligned down to PAGE_SIZE. */
    readonly uptr: bigint,
    readonly npages: number,
    readonly writable: boolean,
    public accountMode: IoptPagesAccountMode,
    /** ≙ source_mm / source_task (the group leader that mapped). */
    readonly sourceMm: Process,
    readonly sourceUser: UserStruct,
  ) {}
}

/** @see pages.c iopt_alloc_pages: the lazy reference to [uptr, uptr + length); nothing is pinned here. */
export function ioptAllocPages(current: Process, uptr: bigint, length: bigint, writable: boolean): IoptPages | number {
  const k = current.kernel;
  const ps = BigInt(k.pageSize);
  // The iommu API takes size_t lengths; also protects DIV_ROUND_UP below.
  if (length > ULONG_MAX - ps || length === 0n) return -EINVAL;
  if (uptr + length > ULONG_MAX) return -EOVERFLOW;
  if (k.hooks.shouldFail('kzalloc')) return -ENOMEM;
  const base = uptr & ~(ps - 1n);
  const npages = Number((length + (uptr - base) + ps - 1n) / ps);
  // capable(CAP_IPC_LOCK) is asked once, at map time, of the mapping task.
  const mode: IoptPagesAccountMode = current.capIpcLock ? 'none' : 'user';
  return new IoptPages(k, base, npages, writable, mode, current, currentUser(k));
}

/** ≙ kref_get(&pages->kref) */
export function ioptGetPages(pages: IoptPages): IoptPages {
  pages.refs++;
  return pages;
}

/** @see pages.c iopt_release_pages: by now no area stores anything, so nothing is pinned or charged. */
export function ioptPutPages(pages: IoptPages): void {
  pages.refs--;
}

/** @see pages.c incr_user_locked_vm: the user's locked_vm against the mapping task's RLIMIT_MEMLOCK, no bypass. */
function incrUserLockedVm(pages: IoptPages, npages: number): number {
  const limit = pages.sourceMm.rlimitMemlock >> BigInt(Math.log2(pages.kernel.pageSize));
  if (BigInt(pages.sourceUser.lockedVm + npages) > limit) return -ENOMEM;
  pages.sourceUser.lockedVm += npages;
  return 0;
}

/** @see pages.c decr_user_locked_vm */
function decrUserLockedVm(pages: IoptPages, npages: number): void {
  pages.sourceUser.lockedVm -= npages;
}

/** @see pages.c do_update_pinned */
function doUpdatePinned(pages: IoptPages, npages: number, inc: boolean): number {
  let rc = 0;
  switch (pages.accountMode) {
    case 'none':
      break;
    case 'user':
      if (inc) rc = incrUserLockedVm(pages, npages);
      else decrUserLockedVm(pages, npages);
      break;
    case 'mm':
      // update_mm_locked_vm → __account_locked_vm(source_mm, npages, inc, source_task, bypass_rlim = false)
      rc = accountLockedVmBypass(pages.sourceMm, npages, inc, false);
      break;
  }
  if (rc !== 0) return rc;
  pages.lastNpinned = pages.npinned;
  pages.sourceMm.pinnedVm += inc ? npages : -npages;
  return 0;
}

/** @see pages.c pfn_reader_user_update_pinned */
function ioptPagesUpdatePinned(pages: IoptPages): number {
  if (pages.npinned === pages.lastNpinned) return 0;
  if (pages.npinned < pages.lastNpinned) return doUpdatePinned(pages, pages.lastNpinned - pages.npinned, false);
  // iommufd_should_fail() here is the accounting step's fault site.
  if (pages.kernel.hooks.shouldFail('account_locked_vm')) return -ENOMEM;
  return doUpdatePinned(pages, pages.npinned - pages.lastNpinned, true);
}

/** @see pages.c update_unpinned */
function updateUnpinned(pages: IoptPages): void {
  if (pages.npinned === pages.lastNpinned) return;
  doUpdatePinned(pages, pages.lastNpinned - pages.npinned, false);
}

/**
 * @see pages.c pfn_reader_user_pin: pin_user_pages(FOLL_LONGTERM | FOLL_WRITE when writable) from the source mm;
 * a remote mm that already exited cannot be entered (mmget_not_zero → EFAULT).
 */
function pfnReaderUserPin(pages: IoptPages, index: number): SimPage | number {
  if (pages.sourceMm.exited) return -EFAULT;
  const ps = BigInt(pages.kernel.pageSize);
  const got = pages.sourceMm.pinUserPages(pages.uptr + BigInt(index) * ps, 1, pages.writable);
  if (typeof got === 'number') return got;
  return got[0]!;
}

function unpinIndexes(pages: IoptPages, indexes: readonly number[]): void {
  for (const i of indexes) {
    const page = pages.pinned.get(i)!;
    pages.pinned.delete(i);
    pages.sourceMm.unpinUserPages([page]);
    pages.npinned--;
  }
}

/**
 * Loads [first, last] of `pages` into the first domain of an io_pagetable and makes the range storage (≙
 * iopt_area_fill_domain(s) with pfn_reader: pin what no other area stores yet, iommu_map into every domain, then
 * pfn_reader_update_pinned). On failure nothing is left pinned or charged. `domains` is how many domains the range
 * is mapped into (each iommu_map is a fault site).
 */
export function ioptPagesFillStorage(pages: IoptPages, first: number, last: number, domains: number): number {
  const fresh: number[] = [];
  for (let i = first; i <= last; i++) {
    if ((pages.storageUsers.get(i) ?? 0) > 0) continue;
    const page = pfnReaderUserPin(pages, i);
    if (typeof page === 'number') {
      unpinIndexes(pages, fresh);
      return page;
    }
    pages.pinned.set(i, page);
    pages.npinned++;
    fresh.push(i);
  }
  for (let d = 0; d < domains; d++) {
    if (pages.kernel.hooks.shouldFail('iommu_map')) {
      unpinIndexes(pages, fresh);
      return -ENOMEM;
    }
  }
  const rc = ioptPagesUpdatePinned(pages);
  if (rc !== 0) {
    unpinIndexes(pages, fresh);
    return rc;
  }
  for (let i = first; i <= last; i++) pages.storageUsers.set(i, (pages.storageUsers.get(i) ?? 0) + 1);
  return 0;
}

/** Removes [first, last] from storage: indexes no other area stores are unpinned and unaccounted (≙ __iopt_area_unfill_domain). */
export function ioptPagesUnfillStorage(pages: IoptPages, first: number, last: number): void {
  const free: number[] = [];
  for (let i = first; i <= last; i++) {
    const n = (pages.storageUsers.get(i) ?? 0) - 1;
    if (n > 0) pages.storageUsers.set(i, n);
    else {
      pages.storageUsers.delete(i);
      free.push(i);
    }
  }
  // Unpin must follow unmap: the domain no longer points at these pages.
  unpinIndexes(pages, free);
  updateUnpinned(pages);
}
