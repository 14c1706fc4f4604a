// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/iommu/iommufd/main.c + device.c, reduced to what the vfio cdev needs: `/dev/iommu` opens an
 * `iommufd_ctx` whose object table (≙ the `objects` xarray, XA_FLAGS_ALLOC1) hands out ids from 1, lowest free first;
 * `iommufd_device_bind` claims the group's DMA ownership for the ctx and allocates the device object (its id is the
 * devid BIND_IOMMUFD returns). No IOAS or HWPT object can be created: every ioctl on the iommufd answers ENOTTY
 * (a real kernel serves IOMMU_* (';', 0x80…) and the VFIO-compat type1 numbers there) — see the README's known gaps.
 */
import { errnoNumber } from '@vfio-ts/uapi';
import { type FileOperations, SimFile } from '../fd/file.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import type { VfioDevice } from '../vfio/device.js';

const EBADF = errnoNumber('EBADF');
const EBADFD = errnoNumber('EBADFD');
const EINVAL = errnoNumber('EINVAL');
const ENODEV = errnoNumber('ENODEV');
const ENOENT = errnoNumber('ENOENT');
const ENOTTY = errnoNumber('ENOTTY');
const EPERM = errnoNumber('EPERM');

/** ≙ struct iommufd_device (IOMMUFD_OBJ_DEVICE). */
export interface IommufdDevice {
  readonly type: 'device';
  readonly ictx: IommufdCtx;
  readonly vdev: VfioDevice;
  id: number;
}

/** The only object type that exists here; IOAS/HWPT objects would join this union. */
export type IommufdObject = IommufdDevice;

/** ≙ struct iommufd_ctx */
export class IommufdCtx {
  /** ≙ ictx->objects: id → object, ids from 1. */
  readonly objects = new Map<number, IommufdObject>();

  constructor(readonly kernel: SimKernel) {}

  /** ≙ xa_alloc(&ictx->objects, …, xa_limit_31b): the lowest free id ≥ 1. */
  allocId(obj: IommufdObject): number {
    let id = 1;
    while (this.objects.has(id)) id++;
    this.objects.set(id, obj);
    return id;
  }
}

export const iommufdFops: FileOperations<IommufdCtx> = {
  // @see iommufd_fops_ioctl: IOMMU_* commands and iommufd_vfio_ioctl are not simulated (README known gaps).
  ioctl: () => -ENOTTY,
  // No .mmap in 6.12's iommufd_fops: do_mmap answers ENODEV.
  mmap: () => -ENODEV,
  // ≙ iommufd_fops_release: runs once no bound device holds the ctx any more, so no object is left.
  release(file) {
    file.privateData.objects.clear();
  },
};

/** @see iommufd/main.c iommufd_fops_open */
export function iommufdFopsOpen(kernel: SimKernel): SimFile<IommufdCtx> {
  return new SimFile<IommufdCtx>('iommufd', iommufdFops, new IommufdCtx(kernel), '/dev/iommu');
}

/**
 * @see iommufd/main.c iommufd_ctx_from_fd: EBADF for a closed fd, EBADFD for a file that is not an iommufd;
 * on success the caller holds a reference on the iommufd file (dropped by iommufd_ctx_put ≙ `file.put`).
 */
export function iommufdCtxFromFd(current: Process, fd: number): SimFile<IommufdCtx> | number {
  const file = current.fds.get(fd);
  if (typeof file === 'number') return -EBADF;
  if (file.kind !== 'iommufd') return -EBADFD;
  return (file as SimFile<IommufdCtx>).get();
}

/** @see iommufd/device.c iommufd_device_bind (+ iommu.c iommu_device_claim_dma_owner) */
export function iommufdDeviceBind(ictx: IommufdCtx, vdev: VfioDevice): IommufdDevice | number {
  const k = ictx.kernel;
  // IOMMU_CAP_CACHE_COHERENCY: intel-iommu reports it for every device (6.12), so no EINVAL here.
  // Isolated MSI (interrupt remapping) or iommufd's own allow_unsafe_interrupts (default off) → else EPERM.
  if (k.profile.type1 !== undefined && !k.profile.type1.interruptRemapping) return -EPERM;
  const group = vdev.group.iommuGroup;
  // iommu_device_claim_dma_owner: a host driver (owner NULL) or another owner → EPERM; the same ctx stacks.
  if (group.hostDriverOwned) return -EPERM;
  if (group.ownerCnt > 0 && group.owner !== ictx) return -EPERM;
  group.ownerCnt++;
  group.owner = ictx;
  const idev: IommufdDevice = { type: 'device', ictx, vdev, id: 0 };
  idev.id = ictx.allocId(idev);
  return idev;
}

/** @see iommufd/device.c iommufd_device_unbind (+ iommu_device_release_dma_owner) */
export function iommufdDeviceUnbind(idev: IommufdDevice): void {
  idev.ictx.objects.delete(idev.id);
  const group = idev.vdev.group.iommuGroup;
  group.ownerCnt--;
  if (group.ownerCnt === 0) group.owner = null;
}

/**
 * @see iommufd/device.c iommufd_device_attach → iommufd_device_change_pt: `iommufd_get_object(ictx, pt_id, ANY)`
 * → ENOENT for an unknown id; an object that is neither IOAS nor HWPT (a device id) → EINVAL. No IOAS or HWPT
 * can exist in this simulation, so attaching never succeeds.
 */
export function iommufdDeviceAttach(idev: IommufdDevice, ptId: number): number {
  const obj = idev.ictx.objects.get(ptId);
  if (obj === undefined) return -ENOENT;
  return -EINVAL;
}
