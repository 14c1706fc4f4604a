// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/iommu/iommufd/main.c (6.12): `/dev/iommu`. iommufd_fops_ioctl decodes a command the way every IOMMU_*
 * ioctl shares: numbers whose _IOC_NR falls outside the table go to the VFIO compatibility layer; then the leading
 * `__u32 size` is read (EFAULT), the table entry must be this exact number (else ENOTTY), `size` must reach the
 * command's last mandatory member (EINVAL), and copy_struct_from_user takes min(size, sizeof) bytes, refusing a
 * larger struct whose tail is not zero (E2BIG; EFAULT if unreadable). The table is the 6.12 one: the IOMMU_*
 * ioctls of the spec available on the profile's kernel. Modelled: DESTROY, IOAS_ALLOC / IOVA_RANGES /
 * ALLOW_IOVAS / MAP / COPY / UNMAP, OPTION, VFIO_IOAS, HWPT_ALLOC (kernel-managed); the others (GET_HW_INFO,
 * HWPT_SET_DIRTY_TRACKING, HWPT_GET_DIRTY_BITMAP, HWPT_INVALIDATE, FAULT_QUEUE_ALLOC) pass those generic checks and
 * then answer ENOTTY — see the README's known gaps.
 */
import {
  codec,
  errnoNumber,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_RLIMIT_MODE,
  type IoctlName,
  type IoctlSpec,
  ioctls,
  minArgsz,
  type StructName,
} from '@vfio-ts/uapi';
import { type FileOperations, SimFile } from '../fd/file.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import type { UserArg } from '../vfio/user-arg.js';
import { iommufdDeviceDestroy } from './device.js';
import { iommufdHwptAlloc, iommufdHwptPagingDestroy } from './hw-pagetable.js';
import {
  iommufdIoasAllocIoctl,
  iommufdIoasAllowIovas,
  iommufdIoasCopy,
  iommufdIoasDestroy,
  iommufdIoasIovaRanges,
  iommufdIoasMap,
  iommufdIoasOption,
  iommufdIoasUnmap,
  iommufdOptionRlimitMode,
} from './ioas.js';
import {
  IommufdCtx,
  type IommufdObject,
  type IommufdUcmd,
  iommufdObjectOps,
  iommufdObjectRemove,
} from './iommufd-private.js';
import { iommufdVfioIoas, iommufdVfioIoctl } from './vfio-compat.js';

export type { IommufdDevice, IommufdIoas, IommufdObject } from './iommufd-private.js';
export { IommufdCtx } from './iommufd-private.js';

const E2BIG = errnoNumber('E2BIG');
const EBADF = errnoNumber('EBADF');
const EBADFD = errnoNumber('EBADFD');
const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');
const ENODEV = errnoNumber('ENODEV');
const ENOTTY = errnoNumber('ENOTTY');
const EOPNOTSUPP = errnoNumber('EOPNOTSUPP');

/** ≙ every iommufd_ctx alive on a kernel (a test-only view; the kernel keeps no such list). */
const contexts = new WeakMap<SimKernel, Set<IommufdCtx>>();

/** The iommufd contexts whose file is still open (for invariant checks). */
export function iommufdContexts(k: SimKernel): ReadonlySet<IommufdCtx> {
  return contexts.get(k) ?? new Set();
}

/** ≙ _IOC_NR(): the low _IOC_NRBITS (8) bits of a request number, on every ABI. */
function iocNr(request: number): number {
  return request & 0xff;
}

/** @see main.c iommufd_destroy */
function iommufdDestroy(ucmd: IommufdUcmd<'iommu_destroy'>): number {
  return iommufdObjectRemove(ucmd.ictx, null, ucmd.cmd.id);
}

/** @see main.c iommufd_option: on success only val64 is copied back. */
function iommufdOption(ucmd: IommufdUcmd<'iommu_option'>): number {
  const cmd = ucmd.cmd;
  if (cmd.reserved !== 0) return -EOPNOTSUPP;
  let rc: number;
  switch (cmd.optionId) {
    case IOMMU_OPTION_RLIMIT_MODE:
      rc = iommufdOptionRlimitMode(ucmd);
      break;
    case IOMMU_OPTION_HUGE_PAGES:
      rc = iommufdIoasOption(ucmd);
      break;
    default:
      return -EOPNOTSUPP;
  }
  if (rc !== 0) return rc;
  const c = codec('iommu_option', ucmd.ictx.kernel.arch);
  const bytes = c.encode(cmd).subarray(c.offsetOf('val64'), c.offsetEnd('val64'));
  return ucmd.arg.copyToUser(bytes, c.offsetOf('val64')) < 0 ? -EFAULT : 0;
}

/** A command the simulation does not carry out: the generic checks ran, the handler is absent. */
function iommufdNotSimulated(): number {
  return -ENOTTY;
}

type Execute = (ucmd: IommufdUcmd<any>) => number;

const handlers: Partial<Record<IoctlName, Execute>> = {
  IOMMU_DESTROY: iommufdDestroy,
  IOMMU_IOAS_ALLOC: iommufdIoasAllocIoctl,
  IOMMU_IOAS_IOVA_RANGES: iommufdIoasIovaRanges,
  IOMMU_IOAS_ALLOW_IOVAS: iommufdIoasAllowIovas,
  IOMMU_IOAS_MAP: iommufdIoasMap,
  IOMMU_IOAS_COPY: iommufdIoasCopy,
  IOMMU_IOAS_UNMAP: iommufdIoasUnmap,
  IOMMU_OPTION: iommufdOption,
  IOMMU_VFIO_IOAS: iommufdVfioIoas,
  IOMMU_HWPT_ALLOC: iommufdHwptAlloc,
};

/** ≙ struct iommufd_ioctl_op */
interface IommufdIoctlOp {
  readonly ioctlNum: number;
  readonly size: number;
  readonly minSize: number;
  readonly structName: StructName;
  readonly execute: Execute;
}

interface IommufdIoctlTable {
  /** _IOC_NR of IOMMUFD_CMD_BASE (IOMMU_DESTROY is the first command). */
  readonly base: number;
  /** ≙ iommufd_ioctl_ops[], indexed by nr - base; holes are ops with ioctl_num 0. */
  readonly ops: (IommufdIoctlOp | undefined)[];
}

const tables = new WeakMap<SimKernel, IommufdIoctlTable>();

/** ≙ iommufd_ioctl_ops[] of the simulated kernel: the spec's /dev/iommu ioctls this kernel version has. */
function iommufdIoctlOps(k: SimKernel): IommufdIoctlTable {
  let table = tables.get(k);
  if (table !== undefined) return table;
  const base = iocNr(k.nr('IOMMU_DESTROY'));
  const ops: (IommufdIoctlOp | undefined)[] = [];
  for (const spec of Object.values(ioctls as Record<string, IoctlSpec>)) {
    if (spec.fdKind !== 'iommufd' || spec.arg.kind !== 'struct') continue;
    if (spec.since !== undefined && !k.kernelAtLeast(spec.since)) continue;
    const name = spec.name as IoctlName;
    ops[iocNr(k.nr(name)) - base] = {
      ioctlNum: k.nr(name),
      size: codec(spec.arg.struct, k.arch).size,
      minSize: minArgsz(name, k.arch),
      structName: spec.arg.struct,
      execute: handlers[name] ?? iommufdNotSimulated,
    };
  }
  table = { base, ops };
  tables.set(k, table);
  return table;
}

/** @see main.c iommufd_ucmd_respond: copies the command back, as much as the caller's size covers. */
export function iommufdUcmdRespond(ucmd: IommufdUcmd): number {
  const c = codec(ucmd.structName, ucmd.ictx.kernel.arch);
  const bytes = c.encode(ucmd.cmd as never);
  return ucmd.arg.copyToUser(bytes.subarray(0, Math.min(ucmd.userSize, bytes.length))) < 0 ? -EFAULT : 0;
}

/** @see main.c iommufd_fops_ioctl */
function iommufdFopsIoctl(file: SimFile<IommufdCtx>, request: number, arg: UserArg, current: Process): number {
  const ictx = file.privateData;
  const k = ictx.kernel;
  const table = iommufdIoctlOps(k);
  const nr = iocNr(request);
  if (nr < table.base || nr - table.base >= table.ops.length) return iommufdVfioIoctl(ictx, request, arg, current);
  // get_user(ucmd.user_size, (u32 __user *)arg)
  const sizeBytes = arg.copyFromUser(4);
  if (typeof sizeBytes === 'number') return sizeBytes;
  const userSize = new DataView(sizeBytes.buffer, sizeBytes.byteOffset).getUint32(0, k.littleEndian);
  const op = table.ops[nr - table.base];
  // -ENOIOCTLCMD: another type or direction with the same _IOC_NR, or a hole in the table.
  if (op === undefined || op.ioctlNum !== request) return -ENOTTY;
  if (userSize < op.minSize) return -EINVAL;
  // copy_struct_from_user: a longer struct must end in zeros (check_zeroed_user), then min(size, sizeof) is copied.
  if (userSize > op.size) {
    const tail = arg.copyFromUser(userSize - op.size, op.size);
    if (typeof tail === 'number') return -EFAULT;
    if (tail.some((b) => b !== 0)) return -E2BIG;
  }
  const got = arg.copyFromUser(Math.min(userSize, op.size));
  if (typeof got === 'number') return -EFAULT;
  const buf = new Uint8Array(op.size);
  buf.set(got);
  const c = codec(op.structName, k.arch);
  const ucmd: IommufdUcmd = { ictx, arg, userSize, structName: op.structName, cmd: c.decode(buf), current };
  return op.execute(ucmd);
}

/** ≙ iommufd_object_ops[type].destroy */
function iommufdObjectDestroy(obj: IommufdObject): void {
  switch (obj.type) {
    case 'device':
      iommufdDeviceDestroy(obj);
      break;
    case 'ioas':
      iommufdIoasDestroy(obj);
      break;
    case 'hwpt_paging':
      iommufdHwptPagingDestroy(obj);
      break;
  }
}
iommufdObjectOps.destroy = iommufdObjectDestroy;

/**
 * @see main.c iommufd_fops_release: runs once no bound device holds the file. Objects form a graph of users
 * counts; leaves (users 1) are destroyed in ID order, repeatedly, until none is left.
 */
function iommufdFopsRelease(file: SimFile<IommufdCtx>): void {
  const ictx = file.privateData;
  while (ictx.objects.size > 0) {
    let destroyed = 0;
    // xa_for_each: ascending IDs.
    for (const [id, obj] of [...ictx.objects].sort((a, b) => a[0] - b[0])) {
      if (obj === null || obj.users !== 1) continue;
      obj.users = 0;
      ictx.objects.delete(id);
      iommufdObjectDestroy(obj);
      destroyed++;
    }
    // A users-count bug: the kernel WARNs and leaks; the invariant checks report what is left.
    if (destroyed === 0) break;
  }
  ictx.vfioIoas = null;
  contexts.get(ictx.kernel)?.delete(ictx);
}

export const iommufdFops: FileOperations<IommufdCtx> = {
  ioctl: iommufdFopsIoctl,
  // No .mmap in 6.12's iommufd_fops: do_mmap answers ENODEV.
  mmap: () => -ENODEV,
  release: iommufdFopsRelease,
};

/** @see main.c iommufd_fops_open: account mode USER (MM is for the /dev/vfio/vfio personality, not simulated). */
export function iommufdFopsOpen(kernel: SimKernel): SimFile<IommufdCtx> {
  const ictx = new IommufdCtx(kernel);
  const file = new SimFile<IommufdCtx>('iommufd', iommufdFops, ictx, '/dev/iommu');
  ictx.file = file;
  let set = contexts.get(kernel);
  if (set === undefined) {
    set = new Set();
    contexts.set(kernel, set);
  }
  set.add(ictx);
  return file;
}

/**
 * @see main.c iommufd_ctx_from_fd: EBADF for a closed fd, EBADFD for a file that is not an iommufd;
 * on success the caller holds a reference on the iommufd file (dropped by iommufd_ctx_put ≙ `file.put`).
 */
export function iommufdCtxFromFd(current: Process, fd: number): SimFile<IommufdCtx> | number {
  const file = current.fds.get(fd);
  if (typeof file === 'number') return -EBADF;
  if (file.kind !== 'iommufd') return -EBADFD;
  return (file as SimFile<IommufdCtx>).get();
}
