// SPDX-License-Identifier: MIT
/** ≙ vfio_iommu_type1.c vfio_dma_do_unmap (v1 and v2 semantics, UNMAP_ALL, VADDR, GET_DIRTY_BITMAP). */
import {
  errnoNumber,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
} from '@vfio-ts/uapi';
import type { Process } from '../mm/process.js';
import { type DirtyBitmap, updateUserBitmap } from './dirty.js';
import { vfioRemoveDma } from './dma-map.js';
import type { VfioIommu } from './vfio-iommu.js';

const EINVAL = errnoNumber('EINVAL');

const U64 = 2n ** 64n;
const U64_MAX = U64 - 1n;

export interface DmaUnmapArgs {
  readonly flags: number;
  readonly iova: bigint;
  readonly size: bigint;
}

/** Returns [errno or 0, bytes unmapped]. */
export function vfioDmaDoUnmap(
  iommu: VfioIommu,
  unmap: DmaUnmapArgs,
  bitmap: DirtyBitmap | null,
  current: Process,
): [number, bigint] {
  const unmapAll = (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  const invalidateVaddr = (unmap.flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0;
  const iova = unmap.iova;
  let size = unmap.size;
  const pgsize = iommu.pgsize;
  // (No emulated mdev groups are simulated, so VADDR is never refused with EBUSY here.)
  if ((iova & (pgsize - 1n)) !== 0n) return [-EINVAL, 0n];
  if (unmapAll) {
    if (iova !== 0n || size !== 0n) return [-EINVAL, 0n];
    size = U64_MAX;
  } else if (size === 0n || (size & (pgsize - 1n)) !== 0n || iova + size - 1n >= U64) {
    return [-EINVAL, 0n];
  }
  if (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP && (!iommu.dirtyPageTracking || bitmap!.pgsize !== pgsize))
    return [-EINVAL, 0n];
  // v2: the request must not bisect a mapping; v1 silently unmaps whole mappings that start inside the range.
  const last = iova + size - 1n;
  if (iommu.v2 && !unmapAll) {
    const first = iommu.findDma(iova, 1n);
    if (first !== undefined && first.iova !== iova) return [-EINVAL, 0n];
    const tail = iommu.findDma(last, 0n);
    if (tail !== undefined && tail.end !== iova + size) return [-EINVAL, 0n];
  }
  let unmapped = 0n;
  const start = iommu.firstIndexFrom(iova);
  const candidates = iommu.dmaList.slice(start);
  const marked: typeof candidates = [];
  for (const dma of candidates) {
    if (dma.iova > last) break;
    if (!iommu.v2 && iova > dma.iova) break;
    if (invalidateVaddr) {
      if (dma.vaddrInvalid) {
        for (const d of marked) {
          d.vaddrInvalid = false;
          iommu.vaddrInvalidCount--;
        }
        return [-EINVAL, 0n];
      }
      dma.vaddrInvalid = true;
      iommu.vaddrInvalidCount++;
      marked.push(dma);
      unmapped += dma.size;
      continue;
    }
    if (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
      const ret = updateUserBitmap(bitmap!, iommu, dma, iova, current);
      if (ret !== 0) return [ret, unmapped];
    }
    unmapped += dma.size;
    vfioRemoveDma(iommu, dma);
  }
  return [0, unmapped];
}
