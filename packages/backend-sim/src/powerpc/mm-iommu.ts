// SPDX-License-Identifier: MIT
/**
 * ≙ arch/powerpc/mm/book3s64/iommu_api.c: memory pre-registered for the IOMMU, kept per mm
 * (mm->context.iommu_group_mem_list) and shared by every sPAPR v2 container of the process.
 */
import { errnoNumber } from '@vfio-ts/uapi';
import type { SimPage } from '../mm/memory.js';
import { accountLockedVm, type Process } from '../mm/process.js';

const EINVAL = errnoNumber('EINVAL');
const EFAULT = errnoNumber('EFAULT');
const ENOMEM = errnoNumber('ENOMEM');
const ENOENT = errnoNumber('ENOENT');
const EBUSY = errnoNumber('EBUSY');
const ENXIO = errnoNumber('ENXIO');

/** ≙ struct mm_iommu_table_group_mem_t */
export class MmIommuTableGroupMem {
  /** Reference count: one per container that registered it, plus transient gets. */
  used = 1;
  /** 1 + the number of TCEs pointing into the region; 0 once the region is being freed. */
  mapped = 1;
  constructor(
    readonly ua: bigint,
    /** Number of system pages. */
    readonly entries: number,
    /** Largest IOMMU page shift the region can back (natural alignment capped by the backing page size). */
    readonly pageshift: number,
    readonly pages: readonly SimPage[],
    readonly pageSize: number,
  ) {}

  get size(): bigint {
    return BigInt(this.entries) * BigInt(this.pageSize);
  }
}

const lists = new WeakMap<Process, MmIommuTableGroupMem[]>();

/** ≙ mm->context.iommu_group_mem_list, newest first. */
export function mmIommuList(mm: Process): MmIommuTableGroupMem[] {
  let list = lists.get(mm);
  if (list === undefined) {
    list = [];
    lists.set(mm, list);
  }
  return list;
}

function ffs(value: bigint): number {
  if (value === 0n) return 64;
  let n = 0;
  while ((value & (1n << BigInt(n))) === 0n) n++;
  return n;
}

/**
 * @see arch/powerpc/mm/book3s64/iommu_api.c mm_iommu_do_alloc
 * Charge first, then pin, then the overlap check: so ENOMEM and EFAULT win over EINVAL for overlapping ranges.
 */
export function mmIommuNew(mm: Process, ua: bigint, entries: number): MmIommuTableGroupMem | number {
  const ret = accountLockedVm(mm, entries, true);
  if (ret) return ret;
  // vzalloc(0) fails, so a zero-sized registration ends in ENOMEM (after a no-op charge).
  if (entries === 0 || mm.kernel.hooks.shouldFail('kzalloc')) {
    accountLockedVm(mm, entries, false);
    return -ENOMEM;
  }
  const pinned = mm.pinUserPages(ua, entries, true);
  if (typeof pinned === 'number') {
    accountLockedVm(mm, entries, false);
    return pinned < 0 ? pinned : -EFAULT;
  }
  const pageShift = Math.log2(mm.pageSize);
  const end = ua + (BigInt(entries) << BigInt(pageShift));
  for (const mem2 of mmIommuList(mm)) {
    if (mem2.ua < end && ua < mem2.ua + mem2.size) {
      mm.unpinUserPages(pinned);
      accountLockedVm(mm, entries, false);
      return -EINVAL;
    }
  }
  let pageshift = Math.min(ffs(ua | (BigInt(entries) << BigInt(pageShift))), 63);
  // The kernel sets `shift` once, before the loop: after the first hugetlb page it stays at the huge size.
  let shift = pageShift;
  for (const page of pinned) {
    // Only hugetlb pages raise the limit (PageHuge); THP does not count here.
    if (pageshift > pageShift && page.compoundSize > page.size) shift = Math.log2(page.compoundSize);
    pageshift = Math.min(pageshift, shift);
  }
  const mem = new MmIommuTableGroupMem(ua, entries, pageshift, pinned, mm.pageSize);
  mmIommuList(mm).unshift(mem);
  return mem;
}

/** @see arch/powerpc/mm/book3s64/iommu_api.c mm_iommu_get — exact (ua, entries) match, takes a reference. */
export function mmIommuGet(mm: Process, ua: bigint, entries: number): MmIommuTableGroupMem | null {
  for (const mem of mmIommuList(mm)) {
    if (mem.ua === ua && mem.entries === entries) {
      mem.used++;
      return mem;
    }
  }
  return null;
}

/** @see arch/powerpc/mm/book3s64/iommu_api.c mm_iommu_put */
export function mmIommuPut(mm: Process, mem: MmIommuTableGroupMem): number {
  if (mem.used === 0) return -ENOENT;
  mem.used--;
  if (mem.used > 0) return 0;
  // Live TCEs keep the region: the put is refused and the reference given back.
  if (mem.mapped !== 1) {
    mem.used++;
    return -EBUSY;
  }
  mem.mapped = 0;
  mmIommuRelease(mm, mem);
  return 0;
}

/** @see arch/powerpc/mm/book3s64/iommu_api.c mm_iommu_release */
function mmIommuRelease(mm: Process, mem: MmIommuTableGroupMem): void {
  const list = mmIommuList(mm);
  const i = list.indexOf(mem);
  if (i >= 0) list.splice(i, 1);
  mm.unpinUserPages(mem.pages);
  accountLockedVm(mm, mem.entries, false);
}

/** @see arch/powerpc/mm/book3s64/iommu_api.c mm_iommu_lookup — the region fully containing [ua, ua+size). */
export function mmIommuLookup(mm: Process, ua: bigint, size: bigint): MmIommuTableGroupMem | null {
  for (const mem of mmIommuList(mm)) {
    if (mem.ua <= ua && ua + size <= mem.ua + mem.size) return mem;
  }
  return null;
}

/** The system page and offset a user address of a region resolves to (≙ mem->hpas[entry] | offset). */
export interface RegionHpa {
  readonly hpa: bigint;
  readonly index: number;
  readonly offset: number;
}

/** @see arch/powerpc/mm/book3s64/iommu_api.c mm_iommu_ua_to_hpa */
export function mmIommuUaToHpa(mem: MmIommuTableGroupMem, ua: bigint, pageshift: number): RegionHpa | number {
  const delta = ua - mem.ua;
  const index = Number(delta / BigInt(mem.pageSize));
  if (delta < 0n || index >= mem.entries) return -EFAULT;
  if (pageshift > mem.pageshift) return -EFAULT;
  const offset = Number(delta % BigInt(mem.pageSize));
  return { hpa: mem.pages[index]!.hpa + BigInt(offset), index, offset };
}

/** @see arch/powerpc/mm/book3s64/iommu_api.c mm_iommu_mapped_inc */
export function mmIommuMappedInc(mem: MmIommuTableGroupMem): number {
  if (mem.mapped === 0) return -ENXIO;
  mem.mapped++;
  return 0;
}

/** @see arch/powerpc/mm/book3s64/iommu_api.c mm_iommu_mapped_dec — never drops below 1. */
export function mmIommuMappedDec(mem: MmIommuTableGroupMem): void {
  if (mem.mapped > 1) mem.mapped--;
}

/**
 * ≙ mm_iommu_cleanup at process exit (destroy_context): regions still listed (orphans of UNREGISTER with live
 * TCEs) are unpinned and uncharged. The process backend calls it when the simulated process exits.
 */
export function mmIommuCleanup(mm: Process): void {
  for (const mem of [...mmIommuList(mm)]) {
    mem.mapped = 0;
    mem.used = 0;
    mmIommuRelease(mm, mem);
  }
}
