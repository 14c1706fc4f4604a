// SPDX-License-Identifier: MIT
/** ≙ vfio_iommu_type1.c: the vfio_iommu_driver_ops of type1 and its ioctl entry points. */

import * as uapi from '@vfio-ts/uapi';
import {
  codec,
  errnoNumber,
  minArgsz,
  VFIO_DMA_CC_IOMMU,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
} from '@vfio-ts/uapi';
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { IommuContext, VfioIommuDriverOps } from '../vfio/iommu-driver.js';
import type { UserArg } from '../vfio/user-arg.js';
import { type DirtyBitmap, pgshiftOf, verifyBitmapSize, vfioIovaDirtyBitmap } from './dirty.js';
import { vfioDmaDoMap, vfioRemoveDma } from './dma-map.js';
import { vfioDmaDoUnmap } from './dma-unmap.js';
import { vfioIommuType1GetInfo } from './info.js';
import { VfioIommu } from './vfio-iommu.js';

const EACCES = errnoNumber('EACCES');
const EBUSY = errnoNumber('EBUSY');
const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');
const ENOMEM = errnoNumber('ENOMEM');
const ENOTTY = errnoNumber('ENOTTY');
const EPERM = errnoNumber('EPERM');

const U64 = 2n ** 64n;

/** Extension 6: VFIO_TYPE1_NESTING_IOMMU in 6.1 headers, __VFIO_RESERVED_TYPE1_NESTING_IOMMU in newer ones. */
const VFIO_TYPE1_NESTING_IOMMU = ((uapi as Record<string, unknown>).VFIO_TYPE1_NESTING_IOMMU ??
  (uapi as Record<string, unknown>).__VFIO_RESERVED_TYPE1_NESTING_IOMMU) as number;

/** @see vfio_iommu_type1.c vfio_iommu_type1_check_extension */
function vfioIommuType1CheckExtension(iommu: VfioIommu | null, arg: bigint, ctx: IommuContext): number {
  const params = ctx.kernel.profile.type1!;
  switch (arg) {
    case BigInt(VFIO_TYPE1_IOMMU):
    case BigInt(VFIO_TYPE1v2_IOMMU):
    case BigInt(VFIO_UNMAP_ALL):
      return 1;
    case BigInt(VFIO_TYPE1_NESTING_IOMMU):
      return params.nestingExtension ? 1 : 0;
    case BigInt(VFIO_UPDATE_VADDR):
      // No emulated (mdev) groups are simulated.
      return !params.updateVaddrNeedsIommu || iommu !== null ? 1 : 0;
    case BigInt(VFIO_DMA_CC_IOMMU):
      if (iommu === null) return 0;
      return params.enforceCacheCoherency || iommu.groups.length === 0 ? 1 : 0;
    default:
      return 0;
  }
}

/** @see vfio_iommu_type1.c vfio_iommu_type1_map_dma */
function vfioIommuType1MapDma(iommu: VfioIommu, arg: UserArg, ctx: IommuContext): number {
  const arch = ctx.arch;
  const minsz = minArgsz('VFIO_IOMMU_MAP_DMA', arch);
  const mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;
  const map = arg.copyStructFromUser<Record<string, any>>('vfio_iommu_type1_dma_map', minsz, arch);
  if (typeof map === 'number') return map;
  if (map.argsz < minsz || (map.flags & ~mask) !== 0) return -EINVAL;
  return vfioDmaDoMap(iommu, { flags: map.flags, vaddr: map.vaddr, iova: map.iova, size: map.size }, ctx.process);
}

/** @see vfio_iommu_type1.c vfio_iommu_type1_unmap_dma */
function vfioIommuType1UnmapDma(iommu: VfioIommu, arg: UserArg, ctx: IommuContext): number {
  const arch = ctx.arch;
  const c = codec('vfio_iommu_type1_dma_unmap', arch);
  const minsz = minArgsz('VFIO_IOMMU_UNMAP_DMA', arch);
  const mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
  const unmap = arg.copyStructFromUser<Record<string, any>>('vfio_iommu_type1_dma_unmap', minsz, arch);
  if (typeof unmap === 'number') return unmap;
  if (unmap.argsz < minsz || (unmap.flags & ~mask) !== 0) return -EINVAL;
  const dirty = (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
  if (dirty && (unmap.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) !== 0) return -EINVAL;
  let bitmap: DirtyBitmap | null = null;
  if (dirty) {
    const bc = codec('vfio_bitmap', arch);
    if (unmap.argsz < minsz + bc.size) return -EINVAL;
    const raw = arg.copyFromUser(bc.size, minsz);
    if (typeof raw === 'number') return raw;
    const b = bc.decode(raw) as unknown as DirtyBitmap;
    bitmap = b;
    const ret = verifyBitmapSize(unmap.size >> pgshiftOf(b.pgsize), b.size);
    if (ret !== 0) return ret;
  }
  const [ret, unmapped] = vfioDmaDoUnmap(iommu, unmap as never, bitmap, ctx.process);
  if (ret !== 0) return ret;
  unmap.size = unmapped;
  return arg.copyToUser(c.encode(unmap).subarray(0, minsz)) < 0 ? -EFAULT : 0;
}

/** @see vfio_iommu_type1.c vfio_iommu_type1_dirty_pages */
function vfioIommuType1DirtyPages(iommu: VfioIommu, arg: UserArg, ctx: IommuContext): number {
  const arch = ctx.arch;
  const mask =
    VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP | VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
  if (!iommu.v2) return -EACCES;
  const minsz = minArgsz('VFIO_IOMMU_DIRTY_PAGES', arch);
  const dirty = arg.copyStructFromUser<Record<string, any>>('vfio_iommu_type1_dirty_bitmap', minsz, arch);
  if (typeof dirty === 'number') return dirty;
  const flags: number = dirty.flags;
  if (dirty.argsz < minsz || (flags & ~mask) !== 0) return -EINVAL;
  // Exactly one flag.
  if (flags === 0 || (flags & (flags - 1)) !== 0) return -EINVAL;
  if (flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
    if (!iommu.dirtyPageTracking) {
      if (ctx.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
      for (const dma of iommu.dmaList) dma.bitmap = true;
      iommu.dirtyPageTracking = true;
    }
    return 0;
  }
  if (flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
    if (iommu.dirtyPageTracking) {
      iommu.dirtyPageTracking = false;
      for (const dma of iommu.dmaList) dma.bitmap = false;
    }
    return 0;
  }
  const rc = codec('vfio_iommu_type1_dirty_bitmap_get', arch);
  const dataSize = dirty.argsz - minsz;
  if (dataSize === 0 || dataSize < rc.size) return -EINVAL;
  const raw = arg.copyFromUser(rc.size, minsz);
  if (typeof raw === 'number') return raw;
  const range = rc.decode(raw) as unknown as { iova: bigint; size: bigint; bitmap: DirtyBitmap };
  if (range.iova + range.size >= U64) return -EINVAL;
  const ret = verifyBitmapSize(range.size >> pgshiftOf(range.bitmap.pgsize), range.bitmap.size);
  if (ret !== 0) return ret;
  const pgsize = iommu.pgsize;
  if (range.bitmap.pgsize !== pgsize) return -EINVAL;
  if ((range.iova & (pgsize - 1n)) !== 0n) return -EINVAL;
  if (range.size === 0n || (range.size & (pgsize - 1n)) !== 0n) return -EINVAL;
  if (!iommu.dirtyPageTracking) return -EINVAL;
  return vfioIovaDirtyBitmap(range.bitmap, iommu, range.iova, range.size, ctx.process);
}

/** @see vfio_iommu_type1.c vfio_iommu_unmap_unpin_all */
function vfioIommuUnmapUnpinAll(iommu: VfioIommu): void {
  for (const dma of [...iommu.dmaList]) vfioRemoveDma(iommu, dma);
}

export const vfioIommuType1DriverOps: VfioIommuDriverOps<VfioIommu> = {
  name: 'vfio-iommu-type1',

  /** @see vfio_iommu_type1.c vfio_iommu_type1_open */
  open(arg, ctx) {
    if (ctx.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
    let v2: boolean;
    switch (arg) {
      case VFIO_TYPE1_IOMMU:
        v2 = false;
        break;
      case VFIO_TYPE1_NESTING_IOMMU:
      case VFIO_TYPE1v2_IOMMU:
        v2 = true;
        break;
      default:
        return -EINVAL;
    }
    return new VfioIommu(ctx.kernel, ctx.kernel.profile.type1!, v2);
  },

  /** @see vfio_iommu_type1.c vfio_iommu_type1_release */
  release(iommu) {
    vfioIommuUnmapUnpinAll(iommu);
    for (const g of iommu.groups) g.dma = null;
    iommu.groups.length = 0;
  },

  /** @see vfio_iommu_type1.c vfio_iommu_type1_ioctl */
  ioctl(iommu, request, arg, ctx) {
    const k = ctx.kernel;
    if (request === k.nr('VFIO_CHECK_EXTENSION')) return vfioIommuType1CheckExtension(iommu, arg.value, ctx);
    // Every other request needs an opened IOMMU (the container only passes them on once SET_IOMMU is done).
    if (iommu === null) return -EINVAL;
    switch (request) {
      case k.nr('VFIO_IOMMU_GET_INFO'):
        return vfioIommuType1GetInfo(iommu, arg);
      case k.nr('VFIO_IOMMU_MAP_DMA'):
        return vfioIommuType1MapDma(iommu, arg, ctx);
      case k.nr('VFIO_IOMMU_UNMAP_DMA'):
        return vfioIommuType1UnmapDma(iommu, arg, ctx);
      case k.nr('VFIO_IOMMU_DIRTY_PAGES'):
        return vfioIommuType1DirtyPages(iommu, arg, ctx);
      default:
        return -ENOTTY;
    }
  },

  /** @see vfio_iommu_type1.c vfio_iommu_type1_attach_group */
  attachGroup(iommu, group: IommuGroup, ctx) {
    if (iommu.vaddrInvalidCount > 0) return -EBUSY;
    if (iommu.groups.includes(group)) return -EINVAL;
    if (ctx.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
    const p = iommu.params;
    if (!p.allowUnsafeInterrupts && !p.interruptRemapping) return -EPERM;
    // Existing mappings must fit the new group's aperture and avoid its reserved regions.
    for (const dma of iommu.dmaList) {
      if (!p.iovaRanges.some((r) => dma.iova >= r.start && dma.end - 1n <= r.end)) return -EINVAL;
    }
    iommu.groups.push(group);
    iommu.iovaList = p.iovaRanges.map((r) => ({ ...r }));
    // vfio_update_pgsize_bitmap: sizes below PAGE_SIZE are hidden and PAGE_SIZE forced.
    const page = BigInt(ctx.kernel.pageSize);
    let bitmap = p.pgsizeBitmap;
    if ((bitmap & (page - 1n)) !== 0n) bitmap = (bitmap & ~(page - 1n)) | page;
    iommu.pgsizeBitmap = bitmap;
    group.dma = iommu;
    return 0;
  },

  /** @see vfio_iommu_type1.c vfio_iommu_type1_detach_group */
  detachGroup(iommu, group) {
    const i = iommu.groups.indexOf(group);
    if (i < 0) return;
    // Groups share one domain; when its last group leaves every mapping goes with it.
    if (iommu.groups.length === 1) vfioIommuUnmapUnpinAll(iommu);
    iommu.groups.splice(i, 1);
    group.dma = null;
  },
};
