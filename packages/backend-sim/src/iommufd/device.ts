// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/iommu/iommufd/device.c (6.12): binding a physical device to an iommufd (DMA ownership, the device
 * object whose ID is the devid), and attaching it to an IOAS (through a compatible auto domain of that IOAS, created
 * on first use — its ID is what ATTACH_IOMMUFD_PT writes back) or to a HWPT, replacing one attachment by another,
 * and detaching. Attaching reserves the device's reserved regions (the x86 MSI window) in the IOAS; the group's DMA
 * then goes through the HWPT (`iommufdGroupDomain`), and is blocked again once the group's last device detaches.
 */
import { errnoNumber } from '@vfio-ts/uapi';
import type { DmaTranslator, IommuGroup } from '../iommu/iommu-group.js';
import type { Process } from '../mm/process.js';
import type { VfioDevice } from '../vfio/device.js';
import {
  type IommufdHwptPaging,
  iommufdHwPagetablePut,
  iommufdHwptPagingAbortAndDestroy,
  iommufdHwptPagingAlloc,
} from './hw-pagetable.js';
import { type IovaSpan, ioptRemoveReservedIova, ioptTableEnforceDevResvRegions } from './io-pagetable.js';
import {
  type IommufdCtx,
  type IommufdDevice,
  type IommufdGroup,
  type IommufdIoas,
  iommufdGetObject,
  iommufdObjectAlloc,
  iommufdObjectDestroyUser,
  iommufdObjectFinalize,
} from './iommufd-private.js';

const EINVAL = errnoNumber('EINVAL');
const ENOMEM = errnoNumber('ENOMEM');
const EPERM = errnoNumber('EPERM');

/** ≙ group->domain while iommufd owns the group: the HWPT its devices DMA through (absent = blocked). */
const groupDomains = new WeakMap<IommuGroup, IommufdHwptPaging>();

/** The translation iommufd installed on an IOMMU group, or null (blocking domain). */
export function iommufdGroupDomain(group: IommuGroup): DmaTranslator | null {
  return groupDomains.get(group) ?? null;
}

/**
 * ≙ iommu_get_resv_regions(dev) on intel-iommu: the holes between the platform's usable IOVA ranges (the IOAPIC/MSI
 * window 0xfee00000-0xfeefffff, IOMMU_RESV_MSI); the space past the last range is the domain aperture's business.
 */
export function iommuGetResvRegions(vdev: VfioDevice): IovaSpan[] {
  const ranges = vdev.kernel.profile.type1!.iovaRanges;
  const out: IovaSpan[] = [];
  for (let i = 1; i < ranges.length; i++) out.push({ start: ranges[i - 1]!.end + 1n, last: ranges[i]!.start - 1n });
  return out;
}

/** @see device.c iommufd_get_group */
function iommufdGetGroup(ictx: IommufdCtx, group: IommuGroup): IommufdGroup | number {
  const cur = ictx.groups.get(group.id);
  if (cur !== undefined) {
    cur.refs++;
    return cur;
  }
  if (ictx.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
  const igroup: IommufdGroup = { ictx, group, refs: 1, hwpt: null, deviceList: [] };
  ictx.groups.set(group.id, igroup);
  return igroup;
}

/** @see device.c iommufd_put_group */
function iommufdPutGroup(igroup: IommufdGroup): void {
  igroup.refs--;
  if (igroup.refs === 0) igroup.ictx.groups.delete(igroup.group.id);
}

/** @see device.c iommufd_device_bind (+ iommu.c iommu_device_claim_dma_owner) */
export function iommufdDeviceBind(ictx: IommufdCtx, vdev: VfioDevice): IommufdDevice | number {
  const k = ictx.kernel;
  // IOMMU_CAP_CACHE_COHERENCY: intel-iommu reports it for every device, so no EINVAL here.
  const igroup = iommufdGetGroup(ictx, vdev.group.iommuGroup);
  if (typeof igroup === 'number') return igroup;
  // Isolated MSI (interrupt remapping) or iommufd's own allow_unsafe_interrupts (default off) → else EPERM.
  if (k.profile.type1 !== undefined && !k.profile.type1.interruptRemapping) {
    iommufdPutGroup(igroup);
    return -EPERM;
  }
  const group = igroup.group;
  // iommu_device_claim_dma_owner: a host driver (owner NULL) or another owner → EPERM; the same ctx stacks.
  if (group.hostDriverOwned || (group.ownerCnt > 0 && group.owner !== ictx)) {
    iommufdPutGroup(igroup);
    return -EPERM;
  }
  group.ownerCnt++;
  group.owner = ictx;
  const idev = iommufdObjectAlloc<IommufdDevice>(ictx, {
    type: 'device',
    ictx,
    vdev,
    igroup,
    // device_iommu_capable(IOMMU_CAP_ENFORCE_CACHE_COHERENCY): snoop control, off in QEMU's VT-d.
    enforceCacheCoherency: k.profile.type1?.enforceCacheCoherency ?? false,
    id: 0,
    users: 0,
  });
  if (typeof idev === 'number') {
    iommuDeviceReleaseDmaOwner(group);
    iommufdPutGroup(igroup);
    return idev;
  }
  // The device holds the iommufd file (iommufd_ctx_get) until it is destroyed.
  ictx.file?.get();
  // The calling driver is a user until iommufd_device_unbind().
  idev.users++;
  iommufdObjectFinalize(ictx, idev);
  return idev;
}

/** ≙ iommu_device_release_dma_owner */
function iommuDeviceReleaseDmaOwner(group: IommuGroup): void {
  group.ownerCnt--;
  if (group.ownerCnt === 0) group.owner = null;
}

/** @see device.c iommufd_device_destroy */
export function iommufdDeviceDestroy(idev: IommufdDevice): void {
  iommuDeviceReleaseDmaOwner(idev.igroup.group);
  iommufdPutGroup(idev.igroup);
}

/**
 * @see device.c iommufd_device_unbind: the device object goes (its users are back to table + driver once
 * detached); the iommufd file reference it held is dropped last (≙ iommufd_ctx_put), which may release the ctx.
 */
export function iommufdDeviceUnbind(idev: IommufdDevice, current: Process): void {
  const ictx = idev.ictx;
  iommufdObjectDestroyUser(ictx, idev);
  ictx.file?.put(current);
}

/** @see device.c iommufd_device_is_attached */
function iommufdDeviceIsAttached(idev: IommufdDevice): boolean {
  return idev.igroup.deviceList.includes(idev);
}

/** ≙ iommu_attach_group / iommu_group_replace_domain: the group now translates through `hwpt`. */
function iommuAttachGroup(igroup: IommufdGroup, hwpt: IommufdHwptPaging): void {
  groupDomains.set(igroup.group, hwpt);
}

/** ≙ iommu_detach_group: back to the blocking domain iommufd ownership left the group in. */
function iommuDetachGroup(igroup: IommufdGroup): void {
  groupDomains.delete(igroup.group);
}

/** @see device.c iommufd_hw_pagetable_attach */
export function iommufdHwPagetableAttach(hwpt: IommufdHwptPaging, idev: IommufdDevice): number {
  const igroup = idev.igroup;
  if (igroup.hwpt !== null && igroup.hwpt !== hwpt) return -EINVAL;
  // iommufd_hwpt_paging_attach → iommufd_device_attach_reserved_iova
  const rc = ioptTableEnforceDevResvRegions(hwpt.ioas.iopt, idev, iommuGetResvRegions(idev.vdev));
  if (rc !== 0) return rc;
  // Only the group's first device attaches the group; the others follow it.
  if (igroup.deviceList.length === 0) {
    iommuAttachGroup(igroup, hwpt);
    igroup.hwpt = hwpt;
  }
  hwpt.users++;
  igroup.deviceList.push(idev);
  return 0;
}

/** @see device.c iommufd_hw_pagetable_detach: returns the HWPT whose reference the caller must put. */
export function iommufdHwPagetableDetach(idev: IommufdDevice): IommufdHwptPaging {
  const igroup = idev.igroup;
  const hwpt = igroup.hwpt!;
  igroup.deviceList.splice(igroup.deviceList.indexOf(idev), 1);
  if (igroup.deviceList.length === 0) {
    iommuDetachGroup(igroup);
    igroup.hwpt = null;
  }
  ioptRemoveReservedIova(hwpt.ioas.iopt, idev);
  return hwpt;
}

/** What do_attach / do_replace give back: the HWPT to put (or null), or -errno. */
type AttachFn = (idev: IommufdDevice, hwpt: IommufdHwptPaging) => IommufdHwptPaging | null | number;

/** @see device.c iommufd_device_do_attach */
function iommufdDeviceDoAttach(idev: IommufdDevice, hwpt: IommufdHwptPaging): IommufdHwptPaging | null | number {
  const rc = iommufdHwPagetableAttach(hwpt, idev);
  return rc !== 0 ? rc : null;
}

/** @see device.c iommufd_group_do_replace_reserved_iova */
function iommufdGroupDoReplaceReservedIova(igroup: IommufdGroup, hwpt: IommufdHwptPaging): number {
  const old = igroup.hwpt!;
  if (old.ioas !== hwpt.ioas) {
    for (const cur of igroup.deviceList) {
      const rc = ioptTableEnforceDevResvRegions(hwpt.ioas.iopt, cur, iommuGetResvRegions(cur.vdev));
      if (rc !== 0) {
        for (const d of igroup.deviceList) ioptRemoveReservedIova(hwpt.ioas.iopt, d);
        return rc;
      }
    }
  }
  return 0;
}

/** @see device.c iommufd_device_do_replace: returns the old HWPT, whose last reference the caller puts. */
function iommufdDeviceDoReplace(idev: IommufdDevice, hwpt: IommufdHwptPaging): IommufdHwptPaging | null | number {
  const igroup = idev.igroup;
  if (igroup.hwpt === null) return -EINVAL;
  if (!iommufdDeviceIsAttached(idev)) return -EINVAL;
  if (hwpt === igroup.hwpt) return null;
  const old = igroup.hwpt;
  const rc = iommufdGroupDoReplaceReservedIova(igroup, hwpt);
  if (rc !== 0) return rc;
  iommuAttachGroup(igroup, hwpt);
  if (hwpt.ioas !== old.ioas) for (const cur of igroup.deviceList) ioptRemoveReservedIova(old.ioas.iopt, cur);
  igroup.hwpt = hwpt;
  // The device list's references move to the new HWPT; one stays for the caller to put on the old one.
  const n = igroup.deviceList.length;
  hwpt.users += n;
  old.users -= n - 1;
  return old;
}

/**
 * @see device.c iommufd_device_auto_get_domain: any auto domain of the IOAS that takes the device (EINVAL means
 * incompatible: try the next), else a new one. `ptId` is where the chosen HWPT's ID goes.
 */
function iommufdDeviceAutoGetDomain(
  idev: IommufdDevice,
  ioas: IommufdIoas,
  ptId: { value: number },
  doAttach: AttachFn,
): IommufdHwptPaging | null | number {
  const immediateAttach = doAttach === iommufdDeviceDoAttach;
  for (const hwpt of [...ioas.hwptList]) {
    if (!hwpt.autoDomain) continue;
    const destroy = doAttach(idev, hwpt);
    if (typeof destroy === 'number') {
      if (destroy === -EINVAL) continue;
      return destroy;
    }
    ptId.value = hwpt.id;
    return destroy;
  }
  const hwpt = iommufdHwptPagingAlloc(idev.ictx, ioas, idev, 0, immediateAttach, 0);
  if (typeof hwpt === 'number') return hwpt;
  let destroy: IommufdHwptPaging | null | number = null;
  if (!immediateAttach) {
    destroy = doAttach(idev, hwpt);
    if (typeof destroy === 'number') {
      iommufdHwptPagingAbortAndDestroy(hwpt);
      return destroy;
    }
  }
  hwpt.autoDomain = true;
  ptId.value = hwpt.id;
  iommufdObjectFinalize(idev.ictx, hwpt);
  return destroy;
}

/**
 * @see device.c iommufd_device_change_pt: ENOENT for an unknown ID; a device (or any object that is neither IOAS
 * nor HWPT) → EINVAL.
 */
function iommufdDeviceChangePt(idev: IommufdDevice, ptId: { value: number }, doAttach: AttachFn): number {
  const ptObj = iommufdGetObject(idev.ictx, ptId.value);
  if (typeof ptObj === 'number') return ptObj;
  let destroy: IommufdHwptPaging | null | number;
  if (ptObj.type === 'hwpt_paging') destroy = doAttach(idev, ptObj);
  else if (ptObj.type === 'ioas') destroy = iommufdDeviceAutoGetDomain(idev, ptObj, ptId, doAttach);
  else destroy = -EINVAL;
  if (typeof destroy === 'number') return destroy;
  // This destruction has to be after everything else.
  if (destroy !== null) iommufdHwPagetablePut(idev.ictx, destroy);
  return 0;
}

/** @see device.c iommufd_device_attach: `ptId.value` in is an IOAS or HWPT ID; out, the HWPT's. */
export function iommufdDeviceAttach(idev: IommufdDevice, ptId: { value: number }): number {
  const rc = iommufdDeviceChangePt(idev, ptId, iommufdDeviceDoAttach);
  if (rc !== 0) return rc;
  // Pairs with iommufd_device_detach().
  idev.users++;
  return 0;
}

/** @see device.c iommufd_device_replace */
export function iommufdDeviceReplace(idev: IommufdDevice, ptId: { value: number }): number {
  return iommufdDeviceChangePt(idev, ptId, iommufdDeviceDoReplace);
}

/** @see device.c iommufd_device_detach: the device's DMA is blocked again once its group has no attached device. */
export function iommufdDeviceDetach(idev: IommufdDevice): void {
  const hwpt = iommufdHwPagetableDetach(idev);
  iommufdHwPagetablePut(idev.ictx, hwpt);
  idev.users--;
}
