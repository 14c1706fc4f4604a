// SPDX-License-Identifier: MIT
/** ≙ struct vfio_iommu_driver_ops (drivers/vfio/vfio.h): the vtable a container hands unknown ioctls to. */
import type { Arch } from '@vfio-ts/uapi';
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import type { UserArg } from './user-arg.js';

export interface IommuContext {
  readonly kernel: SimKernel;
  /** ≙ current: the process making the call (or closing the last fd). */
  readonly process: Process;
  readonly arch: Arch;
}

export interface VfioIommuDriverOps<Data = unknown> {
  readonly name: string;
  /** ≙ .open(arg): arg is the SET_IOMMU type; returns data or a negative errno. */
  open(arg: number, ctx: IommuContext): Data | number;
  release(data: Data, ctx: IommuContext): void;
  /** ≙ .ioctl: data is null for VFIO_CHECK_EXTENSION before SET_IOMMU. Returns >= 0 or negative errno. */
  ioctl(data: Data | null, request: number, arg: UserArg, ctx: IommuContext): number;
  attachGroup(data: Data, group: IommuGroup, ctx: IommuContext): number;
  detachGroup(data: Data, group: IommuGroup, ctx: IommuContext): void;
}
