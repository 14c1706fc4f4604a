// SPDX-License-Identifier: MIT
/** ≙ drivers/vfio/group.c: /dev/vfio/<group>, single open, container membership, device fds. */
import { codec, errnoNumber, minArgsz, VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE } from '@vfio-ts/uapi';
import { type FileOperations, SimFile } from '../fd/file.js';
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import { type VfioContainer, vfioContainerAttachGroup, vfioGroupDetachContainer } from './container.js';
import { VfioDevice, vfioDeviceFops, vfioDfGroupOpen } from './device.js';
import type { UserArg } from './user-arg.js';

const EBADF = errnoNumber('EBADF');
const EBADFD = errnoNumber('EBADFD');
const EBUSY = errnoNumber('EBUSY');
const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');
const ENODEV = errnoNumber('ENODEV');
const ENOTTY = errnoNumber('ENOTTY');

/** ≙ struct vfio_group */
export class VfioGroup {
  openedFile: SimFile<VfioGroup> | null = null;
  container: VfioContainer | null = null;
  /** 0, or 1 + the number of distinct devices open. */
  containerUsers = 0;
  /** ≙ group->cdev_device_open_cnt: devices of this group bound through their cdev (blocks opening the group). */
  cdevDeviceOpenCnt = 0;
  readonly devices: VfioDevice[];

  constructor(
    readonly kernel: SimKernel,
    readonly iommuGroup: IommuGroup,
  ) {
    this.devices = [];
    for (const d of iommuGroup.devices) {
      if (d.driver === 'vfio-pci') this.devices.push(new VfioDevice(kernel, this, d as never));
    }
  }

  get id(): number {
    return this.iommuGroup.id;
  }
}

/** @see group.c vfio_group_fops_open */
export function vfioGroupFopsOpen(group: VfioGroup, path: string): SimFile<VfioGroup> | number {
  // A device of the group is bound through its cdev (the group ↔ cdev exclusion), or the group is already open.
  if (group.cdevDeviceOpenCnt !== 0) return -EBUSY;
  if (group.openedFile !== null) return -EBUSY;
  const file = new SimFile<VfioGroup>('group', vfioGroupFops, group, path);
  group.openedFile = file;
  return file;
}

/** @see group.c vfio_group_fops_release */
function vfioGroupFopsRelease(file: SimFile<VfioGroup>, current: Process): void {
  const group = file.privateData;
  // Device fds hold a reference on this file, so release only runs once no device of the group is open.
  if (group.container !== null) vfioGroupDetachContainer(group, current);
  group.openedFile = null;
}

/** @see group.c vfio_group_ioctl_get_status */
function vfioGroupIoctlGetStatus(group: VfioGroup, arg: UserArg): number {
  const arch = group.kernel.arch;
  const minsz = minArgsz('VFIO_GROUP_GET_STATUS', arch);
  const status = arg.copyStructFromUser<{ argsz: number; flags: number }>('vfio_group_status', minsz, arch);
  if (typeof status === 'number') return status;
  if (status.argsz < minsz) return -EINVAL;
  status.flags = 0;
  if (group.container !== null) status.flags |= VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
  else if (!group.iommuGroup.hostDriverOwned && group.iommuGroup.ownerCnt === 0)
    status.flags |= VFIO_GROUP_FLAGS_VIABLE;
  const out = codec('vfio_group_status', arch).encode(status).subarray(0, minsz);
  return arg.copyToUser(out) < 0 ? -EFAULT : 0;
}

/** @see group.c vfio_group_ioctl_set_container */
function vfioGroupIoctlSetContainer(group: VfioGroup, arg: UserArg, current: Process): number {
  const arch = group.kernel.arch;
  // get_user(fd, (int __user *)arg)
  const raw = arg.copyFromUser(4);
  if (typeof raw === 'number') return raw;
  const fd = new DataView(raw.buffer, raw.byteOffset, 4).getInt32(0, group.kernel.littleEndian);
  void arch;
  const file = current.fds.get(fd);
  if (typeof file === 'number') return -EBADF;
  if (group.container !== null) return -EINVAL;
  if (file.kind === 'container') {
    return vfioContainerAttachGroup(file.privateData as VfioContainer, group, current);
  }
  // Neither a container nor an iommufd: EBADFD since iommufd compat (6.2); 6.1 said EINVAL (measured).
  return group.kernel.kernelAtLeast('6.2') ? -EBADFD : -EINVAL;
}

/** @see group.c vfio_group_ioctl_unset_container */
function vfioGroupIoctlUnsetContainer(group: VfioGroup, current: Process): number {
  if (group.container === null) return -EINVAL;
  if (group.containerUsers !== 1) return -EBUSY;
  vfioGroupDetachContainer(group, current);
  return 0;
}

/** @see vfio_pci_core.c vfio_pci_core_match: "<pci_name>" optionally followed by " vf_token=<uuid>" */
function vfioDeviceGetFromName(group: VfioGroup, buf: string): VfioDevice | number {
  for (const device of group.devices) {
    const name = device.name;
    if (!buf.startsWith(name)) continue;
    if (buf.length === name.length) return device;
    if (buf[name.length] !== ' ') continue;
    // The only option vfio-pci accepts is a VF token, and these simulated devices are not SR-IOV PFs or VFs.
    return -EINVAL;
  }
  return -ENODEV;
}

/** @see group.c vfio_group_ioctl_get_device_fd */
function vfioGroupIoctlGetDeviceFd(group: VfioGroup, arg: UserArg, current: Process): number {
  const buf = arg.strndupUser(group.kernel.pageSize);
  if (typeof buf === 'number') return buf;
  const device = vfioDeviceGetFromName(group, buf);
  if (typeof device === 'number') return device;
  const file = new SimFile<VfioDevice>('device', vfioDeviceFops, device);
  const fd = current.fds.install(file);
  if (fd < 0) return fd;
  const ret = vfioDfGroupOpen(device, current);
  if (ret < 0) {
    // The fd was never visible to user space in the kernel (fd_install comes last); undo silently.
    current.fds.forget(fd);
    return ret;
  }
  return fd;
}

/** @see group.c vfio_group_fops_unl_ioctl */
function vfioGroupFopsUnlIoctl(file: SimFile<VfioGroup>, request: number, arg: UserArg, current: Process): number {
  const group = file.privateData;
  const k = group.kernel;
  switch (request) {
    case k.nr('VFIO_GROUP_GET_DEVICE_FD'):
      return vfioGroupIoctlGetDeviceFd(group, arg, current);
    case k.nr('VFIO_GROUP_GET_STATUS'):
      return vfioGroupIoctlGetStatus(group, arg);
    case k.nr('VFIO_GROUP_SET_CONTAINER'):
      return vfioGroupIoctlSetContainer(group, arg, current);
    case k.nr('VFIO_GROUP_UNSET_CONTAINER'):
      return vfioGroupIoctlUnsetContainer(group, current);
    default:
      return -ENOTTY;
  }
}

export const vfioGroupFops: FileOperations<VfioGroup> = {
  ioctl: vfioGroupFopsUnlIoctl,
  release: vfioGroupFopsRelease,
};
