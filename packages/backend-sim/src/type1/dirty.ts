// SPDX-License-Identifier: MIT
/** ≙ vfio_iommu_type1.c dirty page tracking: every page of an IOMMU-backed mapping is dirty (no mdev pinning). */
import { errnoNumber } from '@vfio-ts/uapi';
import type { Process } from '../mm/process.js';
import type { VfioDma, VfioIommu } from './vfio-iommu.js';

const EINVAL = errnoNumber('EINVAL');

/** DIRTY_BITMAP_SIZE_MAX = DIRTY_BITMAP_BYTES(INT_MAX) (kernel-internal limit). */
export const DIRTY_BITMAP_SIZE_MAX = 0x10000000n;

export interface DirtyBitmap {
  readonly pgsize: bigint;
  readonly size: bigint;
  readonly data: bigint;
}

function dirtyBitmapBytes(npages: bigint): bigint {
  return ((npages + 63n) & ~63n) / 8n;
}

/** @see vfio_iommu_type1.c verify_bitmap_size */
export function verifyBitmapSize(npages: bigint, bitmapSize: bigint): number {
  if (npages === 0n || bitmapSize === 0n || bitmapSize > DIRTY_BITMAP_SIZE_MAX || bitmapSize < dirtyBitmapBytes(npages))
    return -EINVAL;
  return 0;
}

/** ffs-based shift of a page size (the kernel's __ffs). */
export function pgshiftOf(pgsize: bigint): bigint {
  if (pgsize === 0n) return 0n;
  let s = 0n;
  while (((pgsize >> s) & 1n) === 0n) s++;
  return s;
}

/** @see vfio_iommu_type1.c update_user_bitmap: sets the mapping's bits relative to `baseIova` in user memory. */
export function updateUserBitmap(
  bitmap: DirtyBitmap,
  iommu: VfioIommu,
  dma: VfioDma,
  baseIova: bigint,
  current: Process,
): number {
  if (!dma.bitmap) return 0;
  const pgsize = iommu.pgsize;
  const first = (dma.iova - baseIova) / pgsize;
  const npages = dma.size / pgsize;
  const lastBit = first + npages - 1n;
  // Read-modify-write the u64 words the mapping touches (copy_to_user of whole words in the kernel).
  const firstWord = first / 64n;
  const lastWord = lastBit / 64n;
  const bytes = Number((lastWord - firstWord + 1n) * 8n);
  const addr = bitmap.data + firstWord * 8n;
  const cur = current.readUser(addr, bytes);
  if (typeof cur === 'number') return cur;
  const le = iommu.kernel.littleEndian;
  const dv = new DataView(cur.buffer, cur.byteOffset, cur.length);
  for (let bit = first; bit <= lastBit; bit++) {
    const word = Number(bit / 64n - firstWord);
    const v = dv.getBigUint64(word * 8, le) | (1n << (bit % 64n));
    dv.setBigUint64(word * 8, v, le);
  }
  return current.writeUser(addr, cur);
}

/** @see vfio_iommu_type1.c vfio_iova_dirty_bitmap */
export function vfioIovaDirtyBitmap(
  bitmap: DirtyBitmap,
  iommu: VfioIommu,
  iova: bigint,
  size: bigint,
  current: Process,
): number {
  const first = iommu.findDma(iova, 1n);
  if (first !== undefined && first.iova !== iova) return -EINVAL;
  const tail = iommu.findDma(iova + size - 1n, 0n);
  if (tail !== undefined && tail.end !== iova + size) return -EINVAL;
  for (const dma of iommu.dmaList) {
    if (dma.end <= iova || dma.iova >= iova + size) continue;
    const ret = updateUserBitmap(bitmap, iommu, dma, iova, current);
    if (ret !== 0) return ret;
  }
  return 0;
}
