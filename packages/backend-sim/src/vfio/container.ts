// SPDX-License-Identifier: MIT
/** ≙ drivers/vfio/container.c: /dev/vfio/vfio, the legacy container and its IOMMU driver vtable. */
import { errnoNumber } from '@vfio-ts/uapi';
import type { FileOperations, SimFile } from '../fd/file.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import type { VfioGroup } from './group.js';
import type { IommuContext, VfioIommuDriverOps } from './iommu-driver.js';
import type { UserArg } from './user-arg.js';

const EINVAL = errnoNumber('EINVAL');
const ENODEV = errnoNumber('ENODEV');
const EPERM = errnoNumber('EPERM');

/** ≙ struct vfio_container */
export class VfioContainer {
  /** Newest first (list_add), which the sPAPR driver's "first group" depends on. */
  readonly groupList: VfioGroup[] = [];
  iommuDriver: VfioIommuDriverOps<any> | null = null;
  iommuData: unknown = null;
  /** ≙ kref: one for the open file, one per attached group. */
  refs = 1;
  freed = false;

  constructor(readonly kernel: SimKernel) {}
}

export function iommuContext(kernel: SimKernel, current: Process): IommuContext {
  return { kernel, process: current, arch: kernel.arch };
}

/** @see container.c vfio_container_put */
export function vfioContainerPut(container: VfioContainer): void {
  container.refs--;
  if (container.refs === 0) container.freed = true;
}

/** @see container.c vfio_iommu_driver_allowed (no noiommu driver is simulated: every driver is allowed) */
function vfioIommuDriverAllowed(_container: VfioContainer, _driver: VfioIommuDriverOps<any>): boolean {
  return true;
}

/** @see container.c vfio_container_ioctl_check_extension */
export function vfioContainerIoctlCheckExtension(
  container: VfioContainer,
  request: number,
  arg: UserArg,
  ctx: IommuContext,
): number {
  let ret = 0;
  const driver = container.iommuDriver;
  if (driver === null) {
    for (const d of container.kernel.iommuDrivers) {
      if (container.groupList.length > 0 && !vfioIommuDriverAllowed(container, d)) continue;
      ret = d.ioctl(null, request, arg, ctx);
      if (ret > 0) break;
    }
  } else {
    ret = driver.ioctl(container.iommuData, request, arg, ctx);
  }
  return ret;
}

/** @see container.c __vfio_container_attach_groups */
function vfioContainerAttachGroupsAll(
  container: VfioContainer,
  driver: VfioIommuDriverOps<any>,
  data: unknown,
  ctx: IommuContext,
): number {
  const done: VfioGroup[] = [];
  for (const group of container.groupList) {
    const ret = driver.attachGroup(data, group.iommuGroup, ctx);
    if (ret !== 0) {
      for (const g of done.reverse()) driver.detachGroup(data, g.iommuGroup, ctx);
      return ret;
    }
    done.push(group);
  }
  return 0;
}

/** @see container.c vfio_ioctl_set_iommu */
export function vfioIoctlSetIommu(container: VfioContainer, arg: UserArg, ctx: IommuContext): number {
  // Only adding a group privileges a container; there is no unset_iommu besides removing every group.
  if (container.groupList.length === 0 || container.iommuDriver !== null) return -EINVAL;
  const checkExtension = container.kernel.nr('VFIO_CHECK_EXTENSION');
  let ret = -ENODEV;
  for (const driver of container.kernel.iommuDrivers) {
    if (!vfioIommuDriverAllowed(container, driver)) continue;
    if (driver.ioctl(null, checkExtension, arg, ctx) <= 0) continue;
    const data = driver.open(arg.intValue, ctx);
    if (typeof data === 'number' && data < 0) {
      ret = data;
      continue;
    }
    ret = vfioContainerAttachGroupsAll(container, driver, data, ctx);
    if (ret !== 0) {
      driver.release(data, ctx);
      continue;
    }
    container.iommuDriver = driver;
    container.iommuData = data;
    break;
  }
  return ret;
}

/** @see container.c vfio_fops_unl_ioctl */
export function vfioFopsUnlIoctl(
  file: SimFile<VfioContainer>,
  request: number,
  arg: UserArg,
  current: Process,
): number {
  const container = file.privateData;
  const kernel = container.kernel;
  const ctx = iommuContext(kernel, current);
  switch (request) {
    case kernel.nr('VFIO_GET_API_VERSION'):
      return 0; // VFIO_API_VERSION, checked against the uapi constant in tests
    case kernel.nr('VFIO_CHECK_EXTENSION'):
      return vfioContainerIoctlCheckExtension(container, request, arg, ctx);
    case kernel.nr('VFIO_SET_IOMMU'):
      return vfioIoctlSetIommu(container, arg, ctx);
    default: {
      const driver = container.iommuDriver;
      // Unknown ioctls pass through to the IOMMU driver; with none set the container answers -EINVAL.
      if (driver === null) return -EINVAL;
      return driver.ioctl(container.iommuData, request, arg, ctx);
    }
  }
}

/** @see container.c vfio_container_attach_group */
export function vfioContainerAttachGroup(container: VfioContainer, group: VfioGroup, current: Process): number {
  const iommuGroup = group.iommuGroup;
  // iommu_group_claim_dma_owner: a kernel driver owning the group (non-viable) or another user.
  if (iommuGroup.hostDriverOwned || iommuGroup.ownerCnt > 0) return -EPERM;
  iommuGroup.ownerCnt++;
  iommuGroup.owner = group;
  const driver = container.iommuDriver;
  if (driver !== null) {
    const ret = driver.attachGroup(container.iommuData, iommuGroup, iommuContext(container.kernel, current));
    if (ret !== 0) {
      iommuGroup.ownerCnt--;
      iommuGroup.owner = null;
      return ret;
    }
  }
  group.container = container;
  group.containerUsers = 1;
  container.groupList.unshift(group);
  container.refs++;
  return 0;
}

/** @see container.c vfio_group_detach_container */
export function vfioGroupDetachContainer(group: VfioGroup, current: Process): void {
  const container = group.container!;
  const driver = container.iommuDriver;
  const ctx = iommuContext(container.kernel, current);
  if (driver !== null) driver.detachGroup(container.iommuData, group.iommuGroup, ctx);
  group.iommuGroup.ownerCnt--;
  group.iommuGroup.owner = null;
  group.container = null;
  group.containerUsers = 0;
  container.groupList.splice(container.groupList.indexOf(group), 1);
  // Detaching the last group deprivileges the container: the IOMMU is torn down, SET_IOMMU works again.
  if (driver !== null && container.groupList.length === 0) {
    driver.release(container.iommuData, ctx);
    container.iommuDriver = null;
    container.iommuData = null;
  }
  vfioContainerPut(container);
}

export const vfioFops: FileOperations<VfioContainer> = {
  ioctl: vfioFopsUnlIoctl,
  release(file) {
    vfioContainerPut(file.privateData);
  },
};

/** @see container.c vfio_fops_open */
export function vfioFopsOpen(kernel: SimKernel): VfioContainer {
  return new VfioContainer(kernel);
}
