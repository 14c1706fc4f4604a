// SPDX-License-Identifier: MIT
/** ≙ drivers/vfio/vfio_main.c (device files) + group.c vfio_df_group_open/close. */
import { errnoNumber } from '@vfio-ts/uapi';
import type { PciDevice } from '../devices/pci-device.js';
import type { FileOperations, MmapRequest, SimFile } from '../fd/file.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import { vfioBindIommufdCopyArgs, vfioDeviceCdevEnabled } from './device-cdev.js';
import type { VfioGroup } from './group.js';
import {
  VfioPciCoreDevice,
  vfioPciCoreClose,
  vfioPciCoreIoctl,
  vfioPciCoreMmap,
  vfioPciCoreOpen,
  vfioPciRw,
} from './pci-core.js';
import type { UserArg } from './user-arg.js';

const EINVAL = errnoNumber('EINVAL');

/** ≙ struct vfio_device (+ its vfio_pci_core_device). */
export class VfioDevice {
  openCount = 0;
  readonly pci: VfioPciCoreDevice;
  /** ≙ device->index (vfio_init_device, ida from 0 in registration order): the N of /dev/vfio/devices/vfioN. */
  readonly index: number;

  constructor(
    readonly kernel: SimKernel,
    readonly group: VfioGroup,
    readonly dev: PciDevice,
  ) {
    this.pci = new VfioPciCoreDevice(kernel, dev);
    this.index = kernel.vfioDevices.length;
    kernel.vfioDevices.push(this);
  }

  get name(): string {
    return this.dev.name;
  }
}

/** @see group.c vfio_group_use_container */
function vfioGroupUseContainer(group: VfioGroup): number {
  // SET_CONTAINER was done but SET_IOMMU was not.
  if (group.container!.iommuDriver === null) return -EINVAL;
  group.openedFile!.get();
  group.containerUsers++;
  return 0;
}

/** @see group.c vfio_group_unuse_container */
function vfioGroupUnuseContainer(group: VfioGroup, current: Process): void {
  group.containerUsers--;
  group.openedFile!.put(current);
}

/** @see group.c vfio_df_group_open (+ vfio_main.c vfio_df_open / vfio_df_device_first_open) */
export function vfioDfGroupOpen(device: VfioDevice, current: Process): number {
  const group = device.group;
  if (group.container === null) return -EINVAL;
  device.openCount++;
  if (device.openCount === 1) {
    let ret = vfioGroupUseContainer(group);
    if (ret === 0) {
      ret = vfioPciCoreOpen(device.pci);
      if (ret !== 0) vfioGroupUnuseContainer(group, current);
    }
    if (ret !== 0) {
      device.openCount--;
      return ret;
    }
  }
  return 0;
}

/** @see group.c vfio_df_group_close (+ vfio_main.c vfio_df_close / vfio_df_device_last_close) */
export function vfioDfGroupClose(device: VfioDevice, current: Process): void {
  device.openCount--;
  if (device.openCount === 0) {
    vfioPciCoreClose(device.pci);
    vfioGroupUnuseContainer(device.group, current);
  }
}

/** @see vfio_main.c vfio_device_fops_unl_ioctl */
function vfioDeviceFopsUnlIoctl(file: SimFile<VfioDevice>, request: number, arg: UserArg, current: Process): number {
  const device = file.privateData;
  const k = device.kernel;
  // BIND_IOMMUFD is for cdev fds only: a group-obtained fd copies and checks the header (EFAULT/EINVAL), then
  // refuses it (`df->group` → EINVAL). Without CONFIG_VFIO_DEVICE_CDEV (before 6.6, and never with
  // SPAPR_TCE_IOMMU) it is an unknown request → ENOTTY.
  // @see vfio_main.c vfio_device_fops_unl_ioctl; device_cdev.c vfio_df_ioctl_bind_iommufd; Kconfig VFIO_DEVICE_CDEV
  if (
    vfioDeviceCdevEnabled(k) &&
    hasIoctl(k, 'VFIO_DEVICE_BIND_IOMMUFD') &&
    request === k.nr('VFIO_DEVICE_BIND_IOMMUFD')
  ) {
    const bind = vfioBindIommufdCopyArgs(k, arg);
    return typeof bind === 'number' ? bind : -EINVAL;
  }
  return vfioPciCoreIoctl(device.pci, request, arg, current);
}

function hasIoctl(k: SimKernel, name: string): boolean {
  try {
    k.nr(name);
    return true;
  } catch {
    return false;
  }
}

export const vfioDeviceFops: FileOperations<VfioDevice> = {
  ioctl: vfioDeviceFopsUnlIoctl,
  read(file, buffer, offset) {
    return vfioPciRw(file.privateData.pci, buffer, offset, false);
  },
  write(file, buffer, offset) {
    return vfioPciRw(file.privateData.pci, buffer, offset, true);
  },
  mmap(file, request: MmapRequest) {
    return vfioPciCoreMmap(file.privateData.pci, request);
  },
  release(file, current) {
    vfioDfGroupClose(file.privateData, current);
  },
};
