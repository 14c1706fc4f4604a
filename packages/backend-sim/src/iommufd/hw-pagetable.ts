// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/iommu/iommufd/hw_pagetable.c (6.12): paging HWPTs, each an iommu_domain of the platform's IOMMU
 * (intel-iommu on q35: the type1 profile's page sizes and aperture) filled from one IOAS. Auto domains are created by
 * attaching a device to an IOAS and die with their last device; IOMMU_HWPT_ALLOC makes manual ones that live until
 * IOMMU_DESTROY. The HWPT is also the group's DMA translation while attached: a device sees the IOAS's areas, with
 * their permissions, through it.
 */
import {
  errnoNumber,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_NONE,
  IOMMU_HWPT_FAULT_ID_VALID,
} from '@vfio-ts/uapi';
import type { DmaTranslator, DmaWindow } from '../iommu/iommu-group.js';
import { IOMMU_READ, IOMMU_WRITE } from '../type1/vfio-iommu.js';
import { iommufdHwPagetableAttach, iommufdHwPagetableDetach } from './device.js';
import { type IommuDomain, ioptTableAddDomain, ioptTableRemoveDomain } from './io-pagetable.js';
import {
  type IommufdCtx,
  type IommufdDevice,
  type IommufdIoas,
  type IommufdUcmd,
  iommufdGetDevice,
  iommufdGetObject,
  iommufdObjectAbort,
  iommufdObjectAlloc,
  iommufdObjectFinalize,
  iommufdObjectPutAndTryDestroy,
} from './iommufd-private.js';
import { iommufdUcmdRespond } from './main.js';

const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');
const ENOENT = errnoNumber('ENOENT');
const EOPNOTSUPP = errnoNumber('EOPNOTSUPP');
const EPERM = errnoNumber('EPERM');

/** ≙ struct iommufd_hwpt_paging (IOMMUFD_OBJ_HWPT_PAGING) */
export class IommufdHwptPaging implements DmaTranslator {
  readonly type = 'hwpt_paging';
  id = 0;
  users = 1;
  autoDomain = false;
  /** ≙ !list_empty(&hwpt_item): the domain is in the IOAS's iopt. */
  inHwptList = false;
  readonly domain: IommuDomain;
  readonly enforceCacheCoherency: boolean;

  constructor(
    readonly ictx: IommufdCtx,
    readonly ioas: IommufdIoas,
  ) {
    const t = ictx.kernel.profile.type1!;
    // intel_iommu_domain_alloc_user: a second-stage domain, aperture 0 .. the guest address width.
    this.domain = {
      pgsizeBitmap: t.pgsizeBitmap,
      apertureStart: t.iovaRanges[0]!.start,
      apertureEnd: t.iovaRanges[t.iovaRanges.length - 1]!.end,
    };
    this.enforceCacheCoherency = t.enforceCacheCoherency;
  }

  /** What a device behind this domain reaches at `iova`: the IOAS areas mapped into it. */
  translate(iova: bigint, length: number, write: boolean): DmaWindow | number {
    if (!this.inHwptList) return -EFAULT;
    const area = this.ioas.iopt.areaIterFirst(iova, iova);
    if (area === undefined || area.pages === null || !area.filled) return -EFAULT;
    if ((area.iommuProt & (write ? IOMMU_WRITE : IOMMU_READ)) === 0) return -EPERM;
    const ps = BigInt(this.ictx.kernel.pageSize);
    const rel = iova - area.iova + area.pageOffset;
    const page = area.pages.pinned.get(area.firstIndex + Number(rel / ps));
    if (page === undefined) return -EFAULT;
    const offset = Number(rel % ps);
    const toAreaEnd = area.last - iova + 1n;
    let n = Math.min(length, this.ictx.kernel.pageSize - offset);
    if (BigInt(n) > toAreaEnd) n = Number(toAreaEnd);
    return { page, offset, length: n };
  }
}

/**
 * @see hw_pagetable.c iommufd_hwpt_paging_alloc: flags are checked against what intel-iommu can do here (no
 * nesting, no dirty tracking: QEMU's VT-d has neither scalable mode nor SSADS); with `immediateAttach` the device is
 * attached before the domain is filled (the ATTACH path), else the caller attaches (REPLACE, HWPT_ALLOC). The
 * returned object is not yet finalized.
 */
export function iommufdHwptPagingAlloc(
  ictx: IommufdCtx,
  ioas: IommufdIoas,
  idev: IommufdDevice,
  flags: number,
  immediateAttach: boolean,
  userDataLen: number,
): IommufdHwptPaging | number {
  const validFlags = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_FAULT_ID_VALID;
  if ((flags & ~validFlags) !== 0) return -EOPNOTSUPP;
  // device_iommu_capable(IOMMU_CAP_DIRTY_TRACKING) is false without SSADS.
  if ((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0) return -EOPNOTSUPP;
  const hwpt = iommufdObjectAlloc(ictx, new IommufdHwptPaging(ictx, ioas));
  if (typeof hwpt === 'number') return hwpt;
  // Pairs with iommufd_hwpt_paging_destroy.
  ioas.users++;
  // intel_iommu_domain_alloc_user: a nesting parent needs nested translation; user data is for nested domains.
  if ((flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0 || userDataLen !== 0) {
    iommufdHwptPagingAbortAndDestroy(hwpt);
    return -EOPNOTSUPP;
  }
  if (immediateAttach) {
    const rc = iommufdHwPagetableAttach(hwpt, idev);
    if (rc !== 0) {
      iommufdHwptPagingAbortAndDestroy(hwpt);
      return rc;
    }
  }
  const rc = ioptTableAddDomain(ioas.iopt, hwpt.domain);
  if (rc !== 0) {
    if (immediateAttach) {
      iommufdHwPagetableDetach(idev);
      hwpt.users--;
    }
    iommufdHwptPagingAbortAndDestroy(hwpt);
    return rc;
  }
  ioas.hwptList.push(hwpt);
  hwpt.inHwptList = true;
  return hwpt;
}

/** @see hw_pagetable.c iommufd_hwpt_paging_destroy: the last domain of the iopt takes the pins with it. */
export function iommufdHwptPagingDestroy(hwpt: IommufdHwptPaging): void {
  const ioas = hwpt.ioas;
  if (hwpt.inHwptList) {
    ioas.hwptList.splice(ioas.hwptList.indexOf(hwpt), 1);
    hwpt.inHwptList = false;
    ioptTableRemoveDomain(ioas.iopt, hwpt.domain);
  }
  ioas.users--;
}

/** @see main.c iommufd_object_abort_and_destroy with iommufd_hwpt_paging_abort */
export function iommufdHwptPagingAbortAndDestroy(hwpt: IommufdHwptPaging): void {
  iommufdHwptPagingDestroy(hwpt);
  iommufdObjectAbort(hwpt.ictx, hwpt);
}

/** @see iommufd_private.h iommufd_hw_pagetable_put: an auto domain is destroyed with its last user. */
export function iommufdHwPagetablePut(ictx: IommufdCtx, hwpt: IommufdHwptPaging): void {
  if (hwpt.autoDomain) iommufdObjectPutAndTryDestroy(ictx, hwpt);
  else hwpt.users--;
}

/**
 * @see hw_pagetable.c iommufd_hwpt_alloc (IOMMU_HWPT_ALLOC), the kernel-managed case: pt_id an IOAS. A HWPT as
 * parent (nesting) cannot work on this IOMMU: there is no nesting parent to nest on.
 */
export function iommufdHwptAlloc(ucmd: IommufdUcmd<'iommu_hwpt_alloc'>): number {
  const cmd = ucmd.cmd;
  const ictx = ucmd.ictx;
  if (cmd.reserved !== 0) return -EOPNOTSUPP;
  if (
    (cmd.dataType === IOMMU_HWPT_DATA_NONE && cmd.dataLen !== 0) ||
    (cmd.dataType !== IOMMU_HWPT_DATA_NONE && cmd.dataLen === 0)
  )
    return -EINVAL;
  const idev = iommufdGetDevice(ictx, cmd.devId);
  if (typeof idev === 'number') return idev;
  const ptObj = iommufdGetObject(ictx, cmd.ptId);
  // Not ENOENT: a pt_id that names nothing is an invalid argument here.
  if (typeof ptObj === 'number') return -EINVAL;
  if (ptObj.type === 'hwpt_paging') {
    // iommufd_hwpt_nested_alloc: no user data or unknown flags → EOPNOTSUPP; the parent is no nest parent → EINVAL.
    if ((cmd.flags & ~IOMMU_HWPT_FAULT_ID_VALID) !== 0 || cmd.dataLen === 0) return -EOPNOTSUPP;
    return -EINVAL;
  }
  if (ptObj.type !== 'ioas') return -EINVAL;
  const hwpt = iommufdHwptPagingAlloc(ictx, ptObj, idev, cmd.flags, false, cmd.dataLen);
  if (typeof hwpt === 'number') return hwpt;
  // No fault object can exist (IOMMU_FAULT_QUEUE_ALLOC is not simulated), so a fault_id never resolves.
  if ((cmd.flags & IOMMU_HWPT_FAULT_ID_VALID) !== 0) {
    iommufdHwptPagingAbortAndDestroy(hwpt);
    return -ENOENT;
  }
  cmd.outHwptId = hwpt.id;
  const rc = iommufdUcmdRespond(ucmd);
  if (rc !== 0) {
    iommufdHwptPagingAbortAndDestroy(hwpt);
    return rc;
  }
  iommufdObjectFinalize(ictx, hwpt);
  return 0;
}
