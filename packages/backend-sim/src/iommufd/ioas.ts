// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/iommu/iommufd/ioas.c (6.12.y): the IOAS ioctls. Checks come in the kernel's order — reserved fields and
 * unknown flags (EOPNOTSUPP) and 64-bit values the kernel's unsigned long cannot hold (EOVERFLOW) before the IOAS
 * is looked up (ENOENT, also for an ID of another object type), except IOAS_UNMAP, which looks the IOAS up first.
 * Results are written back with iommufd_ucmd_respond (the whole struct, as much of it as the caller's `size` covers).
 */
import {
  codec,
  errnoNumber,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
} from '@vfio-ts/uapi';
import type { Process } from '../mm/process.js';
import { IOMMU_READ, IOMMU_WRITE } from '../type1/vfio-iommu.js';
import {
  IoPagetable,
  type IoptPagesListElm,
  type IovaSpan,
  ioptAbortArea,
  ioptDisableLargePages,
  ioptEnableLargePages,
  ioptFreePagesList,
  ioptGetPagesList,
  ioptMapPages,
  ioptSetAllowIova,
  ioptUnmapAll,
  ioptUnmapIova,
  spans,
} from './io-pagetable.js';
import {
  type IommufdCtx,
  type IommufdIoas,
  type IommufdUcmd,
  iommufdGetIoas,
  iommufdObjectAbort,
  iommufdObjectAlloc,
  iommufdObjectFinalize,
} from './iommufd-private.js';
import { iommufdUcmdRespond } from './main.js';
import { ioptAllocPages, ioptPutPages, ULONG_MAX } from './pages.js';

const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');
const EMSGSIZE = errnoNumber('EMSGSIZE');
const ENOENT = errnoNumber('ENOENT');
const ENOMEM = errnoNumber('ENOMEM');
const EOPNOTSUPP = errnoNumber('EOPNOTSUPP');
const EOVERFLOW = errnoNumber('EOVERFLOW');
const EPERM = errnoNumber('EPERM');
const EBUSY = errnoNumber('EBUSY');

const MAP_FLAGS = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;

/** @see ioas.c iommufd_ioas_destroy */
export function iommufdIoasDestroy(ioas: IommufdIoas): void {
  ioptUnmapAll(ioas.iopt);
  // iopt_destroy_table
  ioas.iopt.allowed = [];
}

/** @see ioas.c iommufd_ioas_alloc: not yet finalized. */
export function iommufdIoasAlloc(ictx: IommufdCtx): IommufdIoas | number {
  return iommufdObjectAlloc<IommufdIoas>(ictx, {
    type: 'ioas',
    ictx,
    iopt: new IoPagetable(ictx.kernel),
    hwptList: [],
    id: 0,
    users: 0,
  });
}

/** @see ioas.c iommufd_ioas_alloc_ioctl */
export function iommufdIoasAllocIoctl(ucmd: IommufdUcmd<'iommu_ioas_alloc'>): number {
  const cmd = ucmd.cmd;
  if (cmd.flags !== 0) return -EOPNOTSUPP;
  const ioas = iommufdIoasAlloc(ucmd.ictx);
  if (typeof ioas === 'number') return ioas;
  cmd.outIoasId = ioas.id;
  const rc = iommufdUcmdRespond(ucmd);
  if (rc !== 0) {
    iommufdIoasDestroy(ioas);
    iommufdObjectAbort(ucmd.ictx, ioas);
    return rc;
  }
  iommufdObjectFinalize(ucmd.ictx, ioas);
  return 0;
}

/**
 * @see ioas.c iommufd_ioas_iova_ranges: the holes of the reserved ranges (not narrowed by the allowed ranges), as
 * many as `num_iovas` has room for; `num_iovas` and `out_iova_alignment` are written back, and a too small array
 * then fails with EMSGSIZE.
 */
export function iommufdIoasIovaRanges(ucmd: IommufdUcmd<'iommu_ioas_iova_ranges'>): number {
  const cmd = ucmd.cmd;
  if (cmd.reserved !== 0) return -EOPNOTSUPP;
  const ioas = iommufdGetIoas(ucmd.ictx, cmd.ioasId);
  if (typeof ioas === 'number') return ioas;
  const k = ucmd.ictx.kernel;
  const range = codec('iommu_iova_range', k.arch);
  const maxIovas = cmd.numIovas;
  cmd.numIovas = 0;
  cmd.outIovaAlignment = ioas.iopt.iovaAlignment;
  for (const span of spans(ioas.iopt.reserved, 0n, ULONG_MAX)) {
    if (span.used) continue;
    if (cmd.numIovas < maxIovas) {
      const at = cmd.allowedIovas + BigInt(cmd.numIovas * range.size);
      if (ucmd.current.writeUser(at, range.encode({ start: span.start, last: span.last })) !== 0) return -EFAULT;
    }
    cmd.numIovas++;
  }
  const rc = iommufdUcmdRespond(ucmd);
  if (rc !== 0) return rc;
  if (cmd.numIovas > maxIovas) return -EMSGSIZE;
  return 0;
}

/** @see ioas.c iommufd_ioas_load_iovas: each range must have start < last and not overlap an earlier one. */
function iommufdIoasLoadIovas(current: Process, ranges: bigint, num: number): IovaSpan[] | number {
  const range = codec('iommu_iova_range', current.kernel.arch);
  const out: IovaSpan[] = [];
  for (let i = 0; i < num; i++) {
    const bytes = current.readUser(ranges + BigInt(i * range.size), range.size);
    if (typeof bytes === 'number') return bytes;
    const r = range.decode(bytes);
    if (r.start >= r.last) return -EINVAL;
    if (out.some((o) => o.start <= r.last && o.last >= r.start)) return -EINVAL;
    if (current.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
    out.push({ start: r.start, last: r.last });
  }
  return out;
}

/** @see ioas.c iommufd_ioas_allow_iovas: replaces the allowed set atomically; 0 ranges allow everything again. */
export function iommufdIoasAllowIovas(ucmd: IommufdUcmd<'iommu_ioas_allow_iovas'>): number {
  const cmd = ucmd.cmd;
  if (cmd.reserved !== 0) return -EOPNOTSUPP;
  const ioas = iommufdGetIoas(ucmd.ictx, cmd.ioasId);
  if (typeof ioas === 'number') return ioas;
  const allowed = iommufdIoasLoadIovas(ucmd.current, cmd.allowedIovas, cmd.numIovas);
  if (typeof allowed === 'number') return allowed;
  return ioptSetAllowIova(ioas.iopt, allowed);
}

/** @see ioas.c conv_iommu_prot (IOMMU_CACHE always: coherency was required at bind). */
function convIommuProt(flags: number): number {
  let prot = 0;
  if (flags & IOMMU_IOAS_MAP_WRITEABLE) prot |= IOMMU_WRITE;
  if (flags & IOMMU_IOAS_MAP_READABLE) prot |= IOMMU_READ;
  return prot;
}

/**
 * @see io_pagetable.c iopt_map_user_pages: a fresh iopt_pages for [uptr, uptr + length), accounted as the ctx says
 * (MM overrides USER, never NONE), mapped as one area. Returns the IOVA or -errno.
 */
export function ioptMapUserPages(
  ictx: IommufdCtx,
  iopt: IoPagetable,
  iova: bigint,
  uptr: bigint,
  length: bigint,
  iommuProt: number,
  allocIova: boolean,
  current: Process,
): bigint | number {
  const pages = ioptAllocPages(current, uptr, length, (iommuProt & IOMMU_WRITE) !== 0);
  if (typeof pages === 'number') return pages;
  if (ictx.accountMode === 'mm' && pages.accountMode === 'user') pages.accountMode = 'mm';
  const elm: IoptPagesListElm = { pages, area: null, startByte: uptr - pages.uptr, length };
  const rc = ioptMapPages(iopt, [elm], length, iova, iommuProt, allocIova);
  if (typeof rc === 'number') {
    if (elm.area !== null) ioptAbortArea(elm.area);
    if (elm.pages !== null) ioptPutPages(elm.pages);
  }
  return rc;
}

/** @see ioas.c iommufd_ioas_map */
export function iommufdIoasMap(ucmd: IommufdUcmd<'iommu_ioas_map'>): number {
  const cmd = ucmd.cmd;
  if ((cmd.flags & ~MAP_FLAGS) !== 0 || cmd.reserved !== 0) return -EOPNOTSUPP;
  if (cmd.iova >= ULONG_MAX || cmd.length >= ULONG_MAX) return -EOVERFLOW;
  if ((cmd.flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) === 0) return -EINVAL;
  const ioas = iommufdGetIoas(ucmd.ictx, cmd.ioasId);
  if (typeof ioas === 'number') return ioas;
  const allocIova = (cmd.flags & IOMMU_IOAS_MAP_FIXED_IOVA) === 0;
  const iova = ioptMapUserPages(
    ucmd.ictx,
    ioas.iopt,
    cmd.iova,
    cmd.userVa,
    cmd.length,
    convIommuProt(cmd.flags),
    allocIova,
    ucmd.current,
  );
  if (typeof iova === 'number') return iova;
  cmd.iova = iova;
  // A failed copy-out leaves the mapping in place, as in the kernel.
  return iommufdUcmdRespond(ucmd);
}

/**
 * @see ioas.c iommufd_ioas_copy: maps the pages behind [src_iova, src_iova + length) of one IOAS into another (or
 * the same) without pinning anew: the areas share the source's iopt_pages.
 */
export function iommufdIoasCopy(ucmd: IommufdUcmd<'iommu_ioas_copy'>): number {
  const cmd = ucmd.cmd;
  if ((cmd.flags & ~MAP_FLAGS) !== 0) return -EOPNOTSUPP;
  if (cmd.length >= ULONG_MAX || cmd.srcIova >= ULONG_MAX || cmd.dstIova >= ULONG_MAX) return -EOVERFLOW;
  if ((cmd.flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) === 0) return -EINVAL;
  const src = iommufdGetIoas(ucmd.ictx, cmd.srcIoasId);
  if (typeof src === 'number') return src;
  const list = ioptGetPagesList(src.iopt, cmd.srcIova, cmd.length);
  if (typeof list === 'number') return list;
  const dst = iommufdGetIoas(ucmd.ictx, cmd.dstIoasId);
  if (typeof dst === 'number') {
    ioptFreePagesList(list);
    return dst;
  }
  const allocIova = (cmd.flags & IOMMU_IOAS_MAP_FIXED_IOVA) === 0;
  const iova = ioptMapPages(dst.iopt, list, cmd.length, cmd.dstIova, convIommuProt(cmd.flags), allocIova);
  if (typeof iova === 'number') {
    ioptFreePagesList(list);
    return iova;
  }
  cmd.dstIova = iova;
  const rc = iommufdUcmdRespond(ucmd);
  ioptFreePagesList(list);
  return rc;
}

/**
 * @see ioas.c iommufd_ioas_unmap: iova 0 + length U64_MAX unmaps everything (0 bytes is fine); otherwise the range
 * must cover whole areas (ENOENT at the first one sticking out — earlier ones are already gone) and unmap something
 * (ENOENT for nothing, "Make vfio_compat's unmap succeed if the range is already empty", 6.12.y). The length
 * written back is the bytes unmapped.
 */
export function iommufdIoasUnmap(ucmd: IommufdUcmd<'iommu_ioas_unmap'>): number {
  const cmd = ucmd.cmd;
  const ioas = iommufdGetIoas(ucmd.ictx, cmd.ioasId);
  if (typeof ioas === 'number') return ioas;
  let rc: number;
  let unmapped: bigint;
  if (cmd.iova === 0n && cmd.length === ULONG_MAX) {
    [rc, unmapped] = ioptUnmapAll(ioas.iopt);
    if (rc !== 0) return rc;
  } else {
    if (cmd.iova >= ULONG_MAX || cmd.length >= ULONG_MAX) return -EOVERFLOW;
    [rc, unmapped] = ioptUnmapIova(ioas.iopt, cmd.iova, cmd.length);
    if (rc !== 0) return rc;
    if (unmapped === 0n) return -ENOENT;
  }
  cmd.length = unmapped;
  return iommufdUcmdRespond(ucmd);
}

/**
 * @see ioas.c iommufd_option_rlimit_mode: global (object_id 0). Setting needs CAP_SYS_RESOURCE — answered by the
 * process's one capability flag (`capIpcLock`, which stands for root here) — and an empty ctx.
 */
export function iommufdOptionRlimitMode(ucmd: IommufdUcmd<'iommu_option'>): number {
  const cmd = ucmd.cmd;
  const ictx = ucmd.ictx;
  if (cmd.objectId !== 0) return -EOPNOTSUPP;
  if (cmd.op === IOMMU_OPTION_OP_GET) {
    cmd.val64 = ictx.accountMode === 'mm' ? 1n : 0n;
    return 0;
  }
  if (cmd.op === IOMMU_OPTION_OP_SET) {
    if (!ucmd.current.capIpcLock) return -EPERM;
    if (ictx.objects.size > 0) return -EBUSY;
    if (cmd.val64 === 0n) ictx.accountMode = 'user';
    else if (cmd.val64 === 1n) ictx.accountMode = 'mm';
    else return -EINVAL;
    return 0;
  }
  return -EOPNOTSUPP;
}

/** @see ioas.c iommufd_ioas_option (IOMMU_OPTION_HUGE_PAGES, per IOAS) */
export function iommufdIoasOption(ucmd: IommufdUcmd<'iommu_option'>): number {
  const cmd = ucmd.cmd;
  if (cmd.reserved !== 0) return -EOPNOTSUPP;
  const ioas = iommufdGetIoas(ucmd.ictx, cmd.objectId);
  if (typeof ioas === 'number') return ioas;
  if (cmd.op === IOMMU_OPTION_OP_GET) {
    cmd.val64 = ioas.iopt.disableLargePages ? 0n : 1n;
    return 0;
  }
  if (cmd.op === IOMMU_OPTION_OP_SET) {
    if (cmd.val64 === 0n) return ioptDisableLargePages(ioas.iopt);
    if (cmd.val64 === 1n) {
      ioptEnableLargePages(ioas.iopt);
      return 0;
    }
    return -EINVAL;
  }
  return -EOPNOTSUPP;
}
