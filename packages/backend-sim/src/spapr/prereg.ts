// SPDX-License-Identifier: MIT
/** ≙ the pre-registration half of drivers/vfio/vfio_iommu_spapr_tce.c (v2 REGISTER/UNREGISTER_MEMORY). */
import { errnoNumber } from '@vfio-ts/uapi';
import { type MmIommuTableGroupMem, mmIommuGet, mmIommuNew, mmIommuPut } from '../powerpc/mm-iommu.js';
import type { TceContainer } from './tce-container.js';

const EINVAL = errnoNumber('EINVAL');
const EBUSY = errnoNumber('EBUSY');
const ENOENT = errnoNumber('ENOENT');
const ENOMEM = errnoNumber('ENOMEM');
const EPERM = errnoNumber('EPERM');

/** @see vfio_iommu_spapr_tce.c tce_iommu_prereg_free */
export function tceIommuPreregFree(container: TceContainer, mem: MmIommuTableGroupMem): number {
  if (container.mm === null) return -EPERM;
  const ret = mmIommuPut(container.mm, mem);
  if (ret) return ret;
  const i = container.preregList.indexOf(mem);
  if (i >= 0) container.preregList.splice(i, 1);
  return 0;
}

function pageMisaligned(container: TceContainer, value: bigint): boolean {
  return (value & BigInt(container.kernel.pageSize - 1)) !== 0n;
}

/**
 * @see vfio_iommu_spapr_tce.c tce_iommu_unregister_pages
 * The put in prereg_free only drops this container's reference; the last put balances the get and frees the
 * region, or with live TCEs fails with an EBUSY nobody looks at: the region lives on as an orphan (Q1).
 */
export function tceIommuUnregisterPages(container: TceContainer, vaddr: bigint, size: bigint): number {
  if (pageMisaligned(container, vaddr) || pageMisaligned(container, size)) return -EINVAL;
  const mm = container.mm;
  if (mm === null) return -EPERM;
  const mem = mmIommuGet(mm, vaddr, Number(size / BigInt(container.kernel.pageSize)));
  if (mem === null) return -ENOENT;
  const ret = container.preregList.includes(mem) ? tceIommuPreregFree(container, mem) : -ENOENT;
  mmIommuPut(mm, mem);
  return ret;
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_register_pages */
export function tceIommuRegisterPages(container: TceContainer, vaddr: bigint, size: bigint): number {
  const mm = container.mm;
  if (mm === null) return -EPERM;
  if (pageMisaligned(container, vaddr) || pageMisaligned(container, size) || BigInt.asUintN(64, vaddr + size) < vaddr) {
    return -EINVAL;
  }
  const entries = Number(size / BigInt(container.kernel.pageSize));
  let mem = mmIommuGet(mm, vaddr, entries);
  if (mem !== null) {
    if (container.preregList.includes(mem)) {
      mmIommuPut(mm, mem);
      return -EBUSY;
    }
  } else {
    const created = mmIommuNew(mm, vaddr, entries);
    if (typeof created === 'number') return created;
    mem = created;
  }
  if (container.kernel.hooks.shouldFail('kzalloc')) {
    mmIommuPut(mm, mem);
    return -ENOMEM;
  }
  container.preregList.unshift(mem);
  container.enabled = true;
  return 0;
}
