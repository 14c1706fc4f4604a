// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/iommu/iommufd/iommufd_private.h and the object half of main.c (6.12): `struct iommufd_ctx`, the object
 * types user space can name by ID, and their life cycle. An ID is reserved at allocation (≙ xa_alloc of
 * XA_ZERO_ENTRY, invisible to lookups), published by finalize, and freed by abort or destroy; IDs are the lowest
 * free from 1 (XA_FLAGS_ALLOC1). `users` is the object's refcount: 1 for the table, plus one per object or driver
 * holding it (a HWPT holds its IOAS, an attached device holds its HWPT, the binding driver and an attachment hold the
 * device). IOMMU_DESTROY and close only free an object whose count is back to 1.
 */
import { errnoNumber, type StructName, type StructTypes } from '@vfio-ts/uapi';
import type { SimFile } from '../fd/file.js';
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import type { VfioDevice } from '../vfio/device.js';
import type { UserArg } from '../vfio/user-arg.js';
import type { IommufdHwptPaging } from './hw-pagetable.js';
import type { IoPagetable } from './io-pagetable.js';

const EBUSY = errnoNumber('EBUSY');
const ENOENT = errnoNumber('ENOENT');
const ENOMEM = errnoNumber('ENOMEM');

/** ≙ struct iommufd_group: per ctx and iommu_group, the HWPT the group is attached to and its attached devices. */
export interface IommufdGroup {
  readonly ictx: IommufdCtx;
  readonly group: IommuGroup;
  refs: number;
  hwpt: IommufdHwptPaging | null;
  /** ≙ device_list: the devices attached (not merely bound). */
  readonly deviceList: IommufdDevice[];
}

/** ≙ struct iommufd_device (IOMMUFD_OBJ_DEVICE) */
export interface IommufdDevice {
  readonly type: 'device';
  readonly ictx: IommufdCtx;
  readonly vdev: VfioDevice;
  readonly igroup: IommufdGroup;
  readonly enforceCacheCoherency: boolean;
  id: number;
  users: number;
}

/** ≙ struct iommufd_ioas (IOMMUFD_OBJ_IOAS) */
export interface IommufdIoas {
  readonly type: 'ioas';
  readonly ictx: IommufdCtx;
  readonly iopt: IoPagetable;
  /** ≙ hwpt_list: the paging HWPTs whose domain is in the iopt. */
  readonly hwptList: IommufdHwptPaging[];
  id: number;
  users: number;
}

export type IommufdObject = IommufdDevice | IommufdIoas | IommufdHwptPaging;
export type IommufdObjectType = IommufdObject['type'];

/** ≙ struct iommufd_ctx */
export class IommufdCtx {
  /** ≙ ictx->objects: id → object, or null for an ID reserved by an object being created. */
  readonly objects = new Map<number, IommufdObject | null>();
  /** ≙ ictx->groups, by iommu_group id */
  readonly groups = new Map<number, IommufdGroup>();
  /** ≙ ictx->account_mode: USER for /dev/iommu, MM after IOMMU_OPTION_RLIMIT_MODE = 1. */
  accountMode: 'user' | 'mm' = 'user';
  /** ≙ ictx->vfio_ioas: the IOAS the VFIO compatibility ioctls act on. */
  vfioIoas: IommufdIoas | null = null;
  /** ≙ ictx->file, set by open. */
  file: SimFile<IommufdCtx> | null = null;

  constructor(readonly kernel: SimKernel) {}
}

/** ≙ struct iommufd_ucmd: the command as copy_struct_from_user left it, decoded; `cmd` is written back by respond. */
export interface IommufdUcmd<N extends StructName = StructName> {
  readonly ictx: IommufdCtx;
  readonly arg: UserArg;
  readonly userSize: number;
  readonly structName: N;
  readonly cmd: StructTypes[N];
  readonly current: Process;
}

/** @see main.c _iommufd_object_alloc: reserves the lowest free ID; the object stays invisible until finalize. */
export function iommufdObjectAlloc<T extends IommufdObject>(ictx: IommufdCtx, obj: T): T | number {
  if (ictx.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
  let id = 1;
  while (ictx.objects.has(id)) id++;
  ictx.objects.set(id, null);
  obj.id = id;
  obj.users = 1;
  return obj;
}

/** @see main.c iommufd_object_finalize */
export function iommufdObjectFinalize(ictx: IommufdCtx, obj: IommufdObject): void {
  ictx.objects.set(obj.id, obj);
}

/** @see main.c iommufd_object_abort: gives the reserved ID back. */
export function iommufdObjectAbort(ictx: IommufdCtx, obj: IommufdObject): void {
  ictx.objects.delete(obj.id);
  obj.users = 0;
}

/** @see main.c iommufd_get_object: ENOENT for a free or reserved ID, a wrong type, or an object being destroyed. */
export function iommufdGetObject(ictx: IommufdCtx, id: number, type?: IommufdObjectType): IommufdObject | number {
  const obj = ictx.objects.get(id);
  if (obj === undefined || obj === null || (type !== undefined && obj.type !== type) || obj.users === 0) return -ENOENT;
  return obj;
}

/** @see iommufd_private.h iommufd_get_ioas */
export function iommufdGetIoas(ictx: IommufdCtx, id: number): IommufdIoas | number {
  return iommufdGetObject(ictx, id, 'ioas') as IommufdIoas | number;
}

/** @see iommufd_private.h iommufd_get_device */
export function iommufdGetDevice(ictx: IommufdCtx, id: number): IommufdDevice | number {
  return iommufdGetObject(ictx, id, 'device') as IommufdDevice | number;
}

/** Object ops (≙ iommufd_object_ops[type].destroy), registered by main.ts to keep the files' imports one-way. */
export const iommufdObjectOps: { destroy: (obj: IommufdObject) => void } = {
  destroy: () => {
    throw new Error('iommufd object ops not registered');
  },
};

/**
 * @see main.c iommufd_object_remove: `toDestroy` non-null drops the caller's reference first. The object must be
 * held by the table alone (users 1), else EBUSY and nothing changes.
 */
export function iommufdObjectRemove(ictx: IommufdCtx, toDestroy: IommufdObject | null, id: number): number {
  const obj = ictx.objects.get(id);
  if (toDestroy !== null) {
    toDestroy.users--;
    if (obj !== toDestroy) return -ENOENT;
  } else if (obj === undefined || obj === null) return -ENOENT;
  if (obj.users !== 1) return -EBUSY;
  obj.users = 0;
  ictx.objects.delete(id);
  if (ictx.vfioIoas === obj) ictx.vfioIoas = null;
  iommufdObjectOps.destroy(obj);
  return 0;
}

/** @see iommufd_private.h iommufd_object_destroy_user (REMOVE_WAIT_SHORTTERM): the driver's own reference goes. */
export function iommufdObjectDestroyUser(ictx: IommufdCtx, obj: IommufdObject): void {
  iommufdObjectRemove(ictx, obj, obj.id);
}

/** @see iommufd_private.h iommufd_object_put_and_try_destroy */
export function iommufdObjectPutAndTryDestroy(ictx: IommufdCtx, obj: IommufdObject): void {
  iommufdObjectRemove(ictx, obj, obj.id);
}
