// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/iommu/iommufd/vfio_compat.c (6.12.y), as far as /dev/iommu answers VFIO container numbers: every
 * ioctl number outside the IOMMU_* table reaches iommufd_vfio_ioctl. GET_API_VERSION and CHECK_EXTENSION always
 * answer; SET_IOMMU, GET_INFO, MAP_DMA and UNMAP_DMA act on the compat IOAS (ENODEV until IOMMU_VFIO_IOAS SET names
 * one — the group path that creates it, GROUP_SET_CONTAINER(iommufd), is not simulated); every other number,
 * DIRTY_PAGES included, is ENOTTY. IOMMU_VFIO_IOAS itself lives here too.
 */
import {
  codec,
  errnoNumber,
  IOMMU_VFIO_IOAS_CLEAR,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
  minArgsz,
  VFIO_API_VERSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_NOIOMMU_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
} from '@vfio-ts/uapi';
import type { Process } from '../mm/process.js';
import { IOMMU_READ, IOMMU_WRITE } from '../type1/vfio-iommu.js';
import type { UserArg } from '../vfio/user-arg.js';
import { ioptCutIova, ioptDisableLargePages, ioptUnmapAll, ioptUnmapIova, spans } from './io-pagetable.js';
import { ioptMapUserPages } from './ioas.js';
import { type IommufdCtx, type IommufdIoas, type IommufdUcmd, iommufdGetIoas } from './iommufd-private.js';
import { iommufdUcmdRespond } from './main.js';
import { ULONG_MAX } from './pages.js';

const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');
const ENODEV = errnoNumber('ENODEV');
const ENOTTY = errnoNumber('ENOTTY');
const EOPNOTSUPP = errnoNumber('EOPNOTSUPP');

/** Debian's 6.12 config builds CONFIG_VFIO_NOIOMMU (CHECK_EXTENSION(VFIO_NOIOMMU_IOMMU) answers it on /dev/iommu). */
const CONFIG_VFIO_NOIOMMU = true;

/** The avail iommufd reports: its limit is the cgroup's memory, so U32_MAX (what s390 QEMU needs). */
const COMPAT_DMA_AVAIL = 2 ** 32 - 1;

/** @see vfio_compat.c get_compat_ioas */
function getCompatIoas(ictx: IommufdCtx): IommufdIoas | number {
  if (ictx.vfioIoas === null || ictx.vfioIoas.users === 0) return -ENODEV;
  return ictx.vfioIoas;
}

/** @see vfio_compat.c iommufd_vfio_ioas (IOMMU_VFIO_IOAS) */
export function iommufdVfioIoas(ucmd: IommufdUcmd<'iommu_vfio_ioas'>): number {
  const cmd = ucmd.cmd;
  const ictx = ucmd.ictx;
  if (cmd.reserved !== 0) return -EOPNOTSUPP;
  switch (cmd.op) {
    case IOMMU_VFIO_IOAS_GET: {
      const ioas = getCompatIoas(ictx);
      if (typeof ioas === 'number') return ioas;
      cmd.ioasId = ioas.id;
      return iommufdUcmdRespond(ucmd);
    }
    case IOMMU_VFIO_IOAS_SET: {
      const ioas = iommufdGetIoas(ictx, cmd.ioasId);
      if (typeof ioas === 'number') return ioas;
      ictx.vfioIoas = ioas;
      return 0;
    }
    case IOMMU_VFIO_IOAS_CLEAR:
      ictx.vfioIoas = null;
      return 0;
    default:
      return -EOPNOTSUPP;
  }
}

/** @see vfio_compat.c iommufd_vfio_map_dma: no permission check (flags 0 maps an area nothing can use). */
function iommufdVfioMapDma(ictx: IommufdCtx, arg: UserArg, current: Process): number {
  const arch = ictx.kernel.arch;
  const minsz = minArgsz('VFIO_IOMMU_MAP_DMA', arch);
  const map = arg.copyStructFromUser<{ argsz: number; flags: number; vaddr: bigint; iova: bigint; size: bigint }>(
    'vfio_iommu_type1_dma_map',
    minsz,
    arch,
  );
  if (typeof map === 'number') return map;
  if (map.argsz < minsz || (map.flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) !== 0) return -EINVAL;
  let prot = 0;
  if (map.flags & VFIO_DMA_MAP_FLAG_READ) prot |= IOMMU_READ;
  if (map.flags & VFIO_DMA_MAP_FLAG_WRITE) prot |= IOMMU_WRITE;
  const ioas = getCompatIoas(ictx);
  if (typeof ioas === 'number') return ioas;
  const rc = ioptMapUserPages(ictx, ioas.iopt, map.iova, map.vaddr, map.size, prot, false, current);
  return typeof rc === 'number' ? rc : 0;
}

/**
 * @see vfio_compat.c iommufd_vfio_unmap_dma: only UNMAP_FLAG_ALL is known; with large pages disabled (type1 v1)
 * the range is first cut out of bigger areas. The size written back is the bytes unmapped, on failure too; an empty
 * range is 0 bytes and success (6.12.y).
 */
function iommufdVfioUnmapDma(ictx: IommufdCtx, arg: UserArg): number {
  const arch = ictx.kernel.arch;
  const minsz = minArgsz('VFIO_IOMMU_UNMAP_DMA', arch);
  const c = codec('vfio_iommu_type1_dma_unmap', arch);
  const unmap = arg.copyStructFromUser<{ argsz: number; flags: number; iova: bigint; size: bigint }>(
    'vfio_iommu_type1_dma_unmap',
    minsz,
    arch,
  );
  if (typeof unmap === 'number') return unmap;
  if (unmap.argsz < minsz || (unmap.flags & ~VFIO_DMA_UNMAP_FLAG_ALL) !== 0) return -EINVAL;
  const ioas = getCompatIoas(ictx);
  if (typeof ioas === 'number') return ioas;
  let rc: number;
  let unmapped = 0n;
  if (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
    if (unmap.iova !== 0n || unmap.size !== 0n) return -EINVAL;
    [rc, unmapped] = ioptUnmapAll(ioas.iopt);
  } else {
    rc = 0;
    if (ioas.iopt.disableLargePages) {
      // Cuts at the start and last of the range (unsigned long arithmetic); no cut before IOVA 0.
      const iovas = [BigInt.asUintN(64, unmap.iova + unmap.size - 1n), BigInt.asUintN(64, unmap.iova - 1n)];
      rc = ioptCutIova(ioas.iopt, unmap.iova !== 0n ? iovas : iovas.slice(0, 1));
    }
    if (rc === 0) [rc, unmapped] = ioptUnmapIova(ioas.iopt, unmap.iova, unmap.size);
    else return rc;
  }
  unmap.size = unmapped;
  if (arg.copyToUser(c.encode(unmap as never).subarray(0, minsz)) < 0) return -EFAULT;
  return rc;
}

/** @see vfio_compat.c iommufd_vfio_cc_iommu */
function iommufdVfioCcIommu(ictx: IommufdCtx): number {
  const ioas = getCompatIoas(ictx);
  if (typeof ioas === 'number') return ioas;
  return ioas.hwptList.every((h) => h.enforceCacheCoherency) ? 1 : 0;
}

/** @see vfio_compat.c iommufd_vfio_check_extension */
function iommufdVfioCheckExtension(ictx: IommufdCtx, type: bigint): number {
  switch (type) {
    case BigInt(VFIO_TYPE1_IOMMU):
    case BigInt(VFIO_TYPE1v2_IOMMU):
    case BigInt(VFIO_UNMAP_ALL):
      return 1;
    case BigInt(VFIO_NOIOMMU_IOMMU):
      return CONFIG_VFIO_NOIOMMU ? 1 : 0;
    case BigInt(VFIO_DMA_CC_IOMMU):
      return iommufdVfioCcIommu(ictx);
    default:
      // The nesting IOMMU and UPDATE_VADDR among them.
      return 0;
  }
}

/** @see vfio_compat.c iommufd_vfio_set_iommu: no noiommu mode here (no noiommu group can attach). */
function iommufdVfioSetIommu(ictx: IommufdCtx, type: bigint): number {
  if (type !== BigInt(VFIO_TYPE1_IOMMU) && type !== BigInt(VFIO_TYPE1v2_IOMMU)) return -EINVAL;
  // VFIO fails set_iommu when no group is attached; here, when there is no compat IOAS.
  const ioas = getCompatIoas(ictx);
  if (typeof ioas === 'number') return ioas;
  // Type1 v1 may unmap in the middle of a mapping: emulated by never using large IOPTEs.
  if (type === BigInt(VFIO_TYPE1_IOMMU)) return ioptDisableLargePages(ioas.iopt);
  return 0;
}

/** @see vfio_compat.c iommufd_get_pagesizes */
function iommufdGetPagesizes(ioas: IommufdIoas): bigint {
  const ps = BigInt(ioas.ictx.kernel.pageSize);
  const pageMask = BigInt.asUintN(64, ~(ps - 1n));
  let bitmap = ULONG_MAX;
  for (const d of ioas.iopt.domains) bitmap &= d.pgsizeBitmap;
  // See vfio_update_pgsize_bitmap()
  if ((bitmap & ~pageMask) !== 0n) {
    bitmap &= pageMask;
    bitmap |= ps;
  }
  return bitmap > ioas.iopt.iovaAlignment ? bitmap : ioas.iopt.iovaAlignment;
}

/**
 * @see vfio_compat.c iommufd_vfio_iommu_get_info: caps DMA_AVAIL then IOVA_RANGE, packed without padding (the
 * IOVA cap at 36), each copied only where argsz has room; argsz comes back as the size needed.
 */
function iommufdVfioIommuGetInfo(ictx: IommufdCtx, arg: UserArg): number {
  const arch = ictx.kernel.arch;
  const c = codec('vfio_iommu_type1_info', arch);
  let minsz = minArgsz('VFIO_IOMMU_GET_INFO', arch);
  const info = arg.copyStructFromUser<Record<string, any>>('vfio_iommu_type1_info', minsz, arch);
  if (typeof info === 'number') return info;
  if (info.argsz < minsz) return -EINVAL;
  minsz = Math.min(info.argsz, c.size);
  const ioas = getCompatIoas(ictx);
  if (typeof ioas === 'number') return ioas;
  info.flags = VFIO_IOMMU_INFO_PGSIZES;
  info.iovaPgsizes = iommufdGetPagesizes(ioas);
  info.capOffset = 0;
  const hdr = codec('vfio_info_cap_header', arch);
  const fills = [fillCapDmaAvail, fillCapIova];
  let total = c.size;
  let lastCap = -1;
  for (const fill of fills) {
    const avail = info.argsz > total ? info.argsz - total : 0;
    const capSize = fill(ioas, arg, total, avail);
    if (capSize < 0) return capSize;
    if (lastCap >= 0 && info.argsz >= total) {
      const next = new Uint8Array(4);
      new DataView(next.buffer).setUint32(0, total, ictx.kernel.littleEndian);
      if (arg.copyToUser(next, lastCap + hdr.offsetOf('next')) < 0) return -EFAULT;
    }
    lastCap = total;
    total += capSize;
  }
  if (info.argsz >= total) info.capOffset = c.size;
  info.argsz = total;
  info.flags |= VFIO_IOMMU_INFO_CAPS;
  return arg.copyToUser(c.encode(info).subarray(0, minsz)) < 0 ? -EFAULT : 0;
}

/** @see vfio_compat.c iommufd_fill_cap_dma_avail */
function fillCapDmaAvail(ioas: IommufdIoas, arg: UserArg, at: number, avail: number): number {
  const cap = codec('vfio_iommu_type1_info_dma_avail', ioas.ictx.kernel.arch).encode({
    header: { id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1, next: 0 },
    avail: COMPAT_DMA_AVAIL,
  });
  if (avail >= cap.length && arg.copyToUser(cap, at) < 0) return -EFAULT;
  return cap.length;
}

/** @see vfio_compat.c iommufd_fill_cap_iova: the holes of the reserved ranges, as type1's IOVA_RANGE cap. */
function fillCapIova(ioas: IommufdIoas, arg: UserArg, at: number, avail: number): number {
  const arch = ioas.ictx.kernel.arch;
  const capc = codec('vfio_iommu_type1_info_cap_iova_range', arch);
  const rangec = codec('vfio_iova_range', arch);
  const head = capc.size;
  let n = 0;
  for (const span of spans(ioas.iopt.reserved, 0n, ULONG_MAX)) {
    if (span.used) continue;
    if (
      avail >= head + rangec.size * (n + 1) &&
      arg.copyToUser(rangec.encode({ start: span.start, end: span.last }), at + head + rangec.size * n) < 0
    )
      return -EFAULT;
    n++;
  }
  const cap = capc.encode({ header: { id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1, next: 0 }, nrIovas: n });
  if (avail >= head + rangec.size * n && arg.copyToUser(cap.subarray(0, head), at) < 0) return -EFAULT;
  return head + rangec.size * n;
}

/**
 * @see vfio_compat.c iommufd_vfio_ioctl: the VFIO container numbers iommufd answers; anything else is
 * -ENOIOCTLCMD, which reaches user space as ENOTTY.
 */
export function iommufdVfioIoctl(ictx: IommufdCtx, request: number, arg: UserArg, current: Process): number {
  const k = ictx.kernel;
  switch (request) {
    case k.nr('VFIO_GET_API_VERSION'):
      return VFIO_API_VERSION;
    case k.nr('VFIO_SET_IOMMU'):
      return iommufdVfioSetIommu(ictx, arg.value);
    case k.nr('VFIO_CHECK_EXTENSION'):
      return iommufdVfioCheckExtension(ictx, arg.value);
    case k.nr('VFIO_IOMMU_GET_INFO'):
      return iommufdVfioIommuGetInfo(ictx, arg);
    case k.nr('VFIO_IOMMU_MAP_DMA'):
      return iommufdVfioMapDma(ictx, arg, current);
    case k.nr('VFIO_IOMMU_UNMAP_DMA'):
      return iommufdVfioUnmapDma(ictx, arg);
    default:
      return -ENOTTY;
  }
}
