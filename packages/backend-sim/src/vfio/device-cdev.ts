// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/vfio/device_cdev.c, the cdev half of vfio_main.c and the physical-device half of drivers/vfio/iommufd.c:
 * `/dev/vfio/devices/vfio<N>` (kernels with CONFIG_VFIO_DEVICE_CDEV: 6.6+, never with SPAPR_TCE_IOMMU). Opening
 * always succeeds; every ioctl but BIND_IOMMUFD, and read/write/mmap, answer EINVAL until a BIND grants access.
 * ATTACH_IOMMUFD_PT attaches (or, when attached, replaces) through iommufd and writes the HWPT ID back; DETACH and
 * close detach. Semantics are those of 6.6–6.12 (no BIND token flag / E2BIG tail check (6.17), no PASID attach (6.13)).
 */
import { codec, errnoNumber, minArgsz } from '@vfio-ts/uapi';
import { type FileOperations, type MmapRequest, SimFile } from '../fd/file.js';
import {
  iommufdDeviceAttach,
  iommufdDeviceBind,
  iommufdDeviceDetach,
  iommufdDeviceReplace,
  iommufdDeviceUnbind,
} from '../iommufd/device.js';
import type { IommufdCtx, IommufdDevice } from '../iommufd/iommufd-private.js';
import { iommufdCtxFromFd } from '../iommufd/main.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import type { VfioDevice } from './device.js';
import type { VfioGroup } from './group.js';
import { vfioPciCoreClose, vfioPciCoreIoctl, vfioPciCoreMmap, vfioPciCoreOpen, vfioPciRw } from './pci-core.js';
import type { UserArg } from './user-arg.js';

const EBUSY = errnoNumber('EBUSY');
const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');
const ENOENT = errnoNumber('ENOENT');

/** Drivers/vfio/Kconfig: VFIO_DEVICE_CDEV (6.6+) depends on IOMMUFD && !SPAPR_TCE_IOMMU. */
export function vfioDeviceCdevEnabled(k: SimKernel): boolean {
  return k.kernelAtLeast('6.6') && k.profile.spapr === undefined;
}

/** ≙ struct vfio_device_file of a cdev open (df->group == NULL). */
export class VfioDeviceCdevFile {
  accessGranted = false;
  /** The iommufd file whose reference BIND took (≙ df->iommufd). */
  iommufd: SimFile<IommufdCtx> | null = null;
  idev: IommufdDevice | null = null;
  /** ≙ vdev->iommufd_attached */
  iommufdAttached = false;

  constructor(readonly device: VfioDevice) {}

  get devid(): number {
    return this.idev?.id ?? 0;
  }
}

/** `/dev/vfio/devices/vfio<N>` → the file, or -ENOENT when the node does not exist on this kernel. */
export function vfioDeviceCdevOpenPath(k: SimKernel, path: string): SimFile<VfioDeviceCdevFile> | number {
  if (!vfioDeviceCdevEnabled(k)) return -ENOENT;
  const m = /^\/dev\/vfio\/devices\/vfio(0|[1-9]\d*)$/.exec(path);
  const device = m === null ? undefined : k.vfioDevices[Number(m[1])];
  if (device === undefined) return -ENOENT;
  return vfioDeviceFopsCdevOpen(device, path);
}

/** @see device_cdev.c vfio_device_fops_cdev_open: access stays blocked until BIND_IOMMUFD. */
function vfioDeviceFopsCdevOpen(device: VfioDevice, path: string): SimFile<VfioDeviceCdevFile> {
  return new SimFile<VfioDeviceCdevFile>('device-cdev', vfioDeviceCdevFops, new VfioDeviceCdevFile(device), path);
}

/** @see group.c vfio_device_block_group: the group fd is open → EBUSY; else count this cdev user. */
function vfioDeviceBlockGroup(group: VfioGroup): number {
  if (group.openedFile !== null) return -EBUSY;
  group.cdevDeviceOpenCnt++;
  return 0;
}

/** @see group.c vfio_device_unblock_group */
function vfioDeviceUnblockGroup(group: VfioGroup): void {
  group.cdevDeviceOpenCnt--;
}

interface BindArgs {
  argsz: number;
  flags: number;
  iommufd: number;
}

/**
 * The part of vfio_df_ioctl_bind_iommufd every device fd runs: `copy_from_user(minsz)` → EFAULT, then
 * `argsz < minsz || flags || iommufd < 0` → EINVAL. Group-obtained fds then answer EINVAL (`df->group`).
 */
export function vfioBindIommufdCopyArgs(k: SimKernel, arg: UserArg): BindArgs | number {
  const minsz = minArgsz('VFIO_DEVICE_BIND_IOMMUFD', k.arch);
  const bind = arg.copyStructFromUser<BindArgs>('vfio_device_bind_iommufd', minsz, k.arch);
  if (typeof bind === 'number') return bind;
  if (bind.argsz < minsz || bind.flags !== 0 || bind.iommufd < 0) return -EINVAL;
  return bind;
}

/** @see vfio_main.c vfio_df_open (cdev: a single open) + vfio_df_device_first_open + iommufd.c vfio_df_iommufd_bind */
function vfioDfCdevOpen(df: VfioDeviceCdevFile, ictx: IommufdCtx, current: Process): number {
  const device = df.device;
  // Only the group path allows a device to be opened more than once.
  if (device.openCount !== 0) return -EINVAL;
  device.openCount++;
  const idev = iommufdDeviceBind(ictx, device);
  if (typeof idev === 'number') {
    device.openCount--;
    return idev;
  }
  const ret = vfioPciCoreOpen(device.pci);
  if (ret !== 0) {
    iommufdDeviceUnbind(idev, current);
    device.openCount--;
    return ret;
  }
  df.idev = idev;
  return 0;
}

/** @see vfio_main.c vfio_df_close → vfio_df_device_last_close (cdev devices are open once) */
function vfioDfCdevClose(df: VfioDeviceCdevFile, current: Process): void {
  const device = df.device;
  device.openCount--;
  vfioPciCoreClose(device.pci);
  vfioIommufdPhysicalUnbind(df, current);
}

/** @see iommufd.c vfio_iommufd_physical_unbind */
function vfioIommufdPhysicalUnbind(df: VfioDeviceCdevFile, current: Process): void {
  if (df.iommufdAttached) {
    iommufdDeviceDetach(df.idev!);
    df.iommufdAttached = false;
  }
  iommufdDeviceUnbind(df.idev!, current);
  df.idev = null;
}

/** @see iommufd.c vfio_iommufd_physical_attach_ioas: attach, or replace once attached. */
function vfioIommufdPhysicalAttachIoas(df: VfioDeviceCdevFile, ptId: { value: number }): number {
  const rc = df.iommufdAttached ? iommufdDeviceReplace(df.idev!, ptId) : iommufdDeviceAttach(df.idev!, ptId);
  if (rc !== 0) return rc;
  df.iommufdAttached = true;
  return 0;
}

/** @see iommufd.c vfio_iommufd_physical_detach_ioas: a no-op when not attached. */
function vfioIommufdPhysicalDetachIoas(df: VfioDeviceCdevFile): void {
  if (!df.iommufdAttached) return;
  iommufdDeviceDetach(df.idev!);
  df.iommufdAttached = false;
}

/** @see device_cdev.c vfio_df_ioctl_bind_iommufd */
function vfioDfIoctlBindIommufd(df: VfioDeviceCdevFile, arg: UserArg, current: Process): number {
  const device = df.device;
  const k = device.kernel;
  const bind = vfioBindIommufdCopyArgs(k, arg);
  if (typeof bind === 'number') return bind;
  const group = device.group;
  let ret = vfioDeviceBlockGroup(group);
  if (ret !== 0) return ret;
  // One device file cannot be bound twice.
  if (df.accessGranted) {
    vfioDeviceUnblockGroup(group);
    return -EINVAL;
  }
  const ictxFile = iommufdCtxFromFd(current, bind.iommufd);
  if (typeof ictxFile === 'number') {
    vfioDeviceUnblockGroup(group);
    return ictxFile;
  }
  ret = vfioDfCdevOpen(df, ictxFile.privateData, current);
  if (ret === 0) {
    const field = codec('vfio_device_bind_iommufd', k.arch).fields.find((f) => f.name === 'out_devid')!;
    const out = new Uint8Array(field.size);
    new DataView(out.buffer).setUint32(0, df.devid, k.littleEndian);
    if (arg.copyToUser(out, field.offset) < 0) {
      vfioDfCdevClose(df, current);
      ret = -EFAULT;
    }
  }
  if (ret !== 0) {
    ictxFile.put(current);
    vfioDeviceUnblockGroup(group);
    return ret;
  }
  df.iommufd = ictxFile;
  device.pci.cdevOpened = true;
  df.accessGranted = true;
  return 0;
}

/** @see device_cdev.c vfio_df_unbind_iommufd (from vfio_device_fops_release) */
function vfioDfUnbindIommufd(df: VfioDeviceCdevFile, current: Process): void {
  if (!df.accessGranted) return;
  vfioDfCdevClose(df, current);
  df.iommufd!.put(current);
  df.iommufd = null;
  df.device.pci.cdevOpened = false;
  df.accessGranted = false;
  vfioDeviceUnblockGroup(df.device.group);
}

/**
 * @see device_cdev.c vfio_df_ioctl_attach_pt (6.6–6.12: no PASID flag, so any flag → EINVAL). The HWPT ID goes back
 * in pt_id; if that copy faults the device is detached altogether (not put back where it was).
 */
function vfioDfIoctlAttachPt(df: VfioDeviceCdevFile, arg: UserArg): number {
  const k = df.device.kernel;
  const minsz = minArgsz('VFIO_DEVICE_ATTACH_IOMMUFD_PT', k.arch);
  const a = arg.copyStructFromUser<{ argsz: number; flags: number; ptId: number }>(
    'vfio_device_attach_iommufd_pt',
    minsz,
    k.arch,
  );
  if (typeof a === 'number') return a;
  if (a.argsz < minsz || a.flags !== 0) return -EINVAL;
  const ptId = { value: a.ptId };
  const ret = vfioIommufdPhysicalAttachIoas(df, ptId);
  if (ret !== 0) return ret;
  const field = codec('vfio_device_attach_iommufd_pt', k.arch).fields.find((f) => f.name === 'pt_id')!;
  const out = new Uint8Array(field.size);
  new DataView(out.buffer).setUint32(0, ptId.value, k.littleEndian);
  if (arg.copyToUser(out, field.offset) < 0) {
    vfioIommufdPhysicalDetachIoas(df);
    return -EFAULT;
  }
  return 0;
}

/** @see device_cdev.c vfio_df_ioctl_detach_pt: detaching an unattached device is a no-op that returns 0. */
function vfioDfIoctlDetachPt(df: VfioDeviceCdevFile, arg: UserArg): number {
  const k = df.device.kernel;
  const minsz = minArgsz('VFIO_DEVICE_DETACH_IOMMUFD_PT', k.arch);
  const d = arg.copyStructFromUser<{ argsz: number; flags: number }>('vfio_device_detach_iommufd_pt', minsz, k.arch);
  if (typeof d === 'number') return d;
  if (d.argsz < minsz || d.flags !== 0) return -EINVAL;
  vfioIommufdPhysicalDetachIoas(df);
  return 0;
}

/** @see vfio_main.c vfio_device_fops_unl_ioctl, for a cdev-opened file */
function vfioDeviceCdevIoctl(
  file: SimFile<VfioDeviceCdevFile>,
  request: number,
  arg: UserArg,
  current: Process,
): number {
  const df = file.privateData;
  const k = df.device.kernel;
  if (request === k.nr('VFIO_DEVICE_BIND_IOMMUFD')) return vfioDfIoctlBindIommufd(df, arg, current);
  if (!df.accessGranted) return -EINVAL;
  if (request === k.nr('VFIO_DEVICE_ATTACH_IOMMUFD_PT')) return vfioDfIoctlAttachPt(df, arg);
  if (request === k.nr('VFIO_DEVICE_DETACH_IOMMUFD_PT')) return vfioDfIoctlDetachPt(df, arg);
  return vfioPciCoreIoctl(df.device.pci, request, arg, current);
}

export const vfioDeviceCdevFops: FileOperations<VfioDeviceCdevFile> = {
  ioctl: vfioDeviceCdevIoctl,
  // vfio_device_fops_read/write/mmap: EINVAL until access is granted.
  read(file, buffer, offset) {
    const df = file.privateData;
    return df.accessGranted ? vfioPciRw(df.device.pci, buffer, offset, false) : -EINVAL;
  },
  write(file, buffer, offset) {
    const df = file.privateData;
    return df.accessGranted ? vfioPciRw(df.device.pci, buffer, offset, true) : -EINVAL;
  },
  mmap(file, request: MmapRequest) {
    const df = file.privateData;
    return df.accessGranted ? vfioPciCoreMmap(df.device.pci, request) : -EINVAL;
  },
  // vfio_device_fops_release: a cdev file unbinds.
  release(file, current) {
    vfioDfUnbindIommufd(file.privateData, current);
  },
};
