// SPDX-License-Identifier: MIT
/** ≙ struct vfio_iommu / struct vfio_dma of drivers/vfio/vfio_iommu_type1.c */
import { errnoNumber } from '@vfio-ts/uapi';
import type { DmaTranslator, DmaWindow, IommuGroup } from '../iommu/iommu-group.js';
import type { IovaRange, SimKernel, Type1Params } from '../kernel.js';
import type { SimPage } from '../mm/memory.js';
import type { Process } from '../mm/process.js';

const EFAULT = errnoNumber('EFAULT');
const EPERM = errnoNumber('EPERM');

/** IOMMU_READ / IOMMU_WRITE (include/linux/iommu.h, kernel-internal). */
export const IOMMU_READ = 1;
export const IOMMU_WRITE = 2;

/** ≙ struct vfio_dma: one MAP_DMA, never merged with its neighbours. */
export class VfioDma {
  size = 0n;
  vaddrInvalid = false;
  /** Pinned pages, one per PAGE_SIZE of [iova, iova + size). */
  pages: SimPage[] = [];
  /** Pages charged to `task`'s locked_vm (≙ the sum of vfio_lock_acct calls for this dma). */
  locked = 0;
  /** Dirty tracking is on: every page of an IOMMU-backed mapping is reported dirty. */
  bitmap = false;

  constructor(
    readonly iova: bigint,
    public vaddr: bigint,
    readonly prot: number,
    /** ≙ dma->task / dma->mm: whose locked_vm pays; changes with VADDR re-owning. */
    public task: Process,
    /** ≙ dma->lock_cap: CAP_IPC_LOCK captured at MAP time. */
    public lockCap: boolean,
  ) {}

  get end(): bigint {
    return this.iova + this.size;
  }
}

export class VfioIommu implements DmaTranslator {
  readonly v2: boolean;
  /** Sorted by iova, non-overlapping. */
  readonly dmaList: VfioDma[] = [];
  dmaAvail: number;
  pgsizeBitmap: bigint;
  iovaList: IovaRange[] = [];
  vaddrInvalidCount = 0;
  dirtyPageTracking = false;
  /** Groups attached to the (single, shared) IOMMU domain. */
  readonly groups: IommuGroup[] = [];

  constructor(
    readonly kernel: SimKernel,
    readonly params: Type1Params,
    v2: boolean,
  ) {
    this.v2 = v2;
    this.dmaAvail = params.dmaEntryLimit;
    // PAGE_MASK until a domain is attached.
    this.pgsizeBitmap = BigInt.asUintN(64, ~(BigInt(kernel.pageSize) - 1n));
  }

  /** 1 << __ffs(pgsize_bitmap): the unit of alignment for map and unmap. */
  get pgsize(): bigint {
    const b = this.pgsizeBitmap;
    return b & -b;
  }

  /** ≙ vfio_find_dma: any mapping overlapping [start, start + size) (size 0 means the one containing start). */
  findDma(start: bigint, size: bigint): VfioDma | undefined {
    const end = size === 0n ? start + 1n : start + size;
    let lo = 0;
    let hi = this.dmaList.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const dma = this.dmaList[mid]!;
      if (end <= dma.iova) hi = mid - 1;
      else if (start >= dma.end) lo = mid + 1;
      else return dma;
    }
    return undefined;
  }

  /** Index of the first mapping whose end is above `start` (≙ vfio_find_dma_first_node). */
  firstIndexFrom(start: bigint): number {
    let lo = 0;
    let hi = this.dmaList.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.dmaList[mid]!.end <= start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** ≙ vfio_link_dma */
  linkDma(dma: VfioDma): void {
    this.dmaList.splice(this.firstIndexFrom(dma.iova), 0, dma);
  }

  unlinkDma(dma: VfioDma): void {
    const i = this.dmaList.indexOf(dma);
    if (i >= 0) this.dmaList.splice(i, 1);
  }

  /** The IOMMU domain's view: what a device of an attached group reaches at `iova`. */
  translate(iova: bigint, length: number, write: boolean): DmaWindow | number {
    const dma = this.findDma(iova, 0n);
    if (dma === undefined) return -EFAULT;
    if ((dma.prot & (write ? IOMMU_WRITE : IOMMU_READ)) === 0) return -EPERM;
    const ps = BigInt(this.kernel.pageSize);
    const rel = iova - dma.iova;
    const page = dma.pages[Number(rel / ps)];
    if (page === undefined) return -EFAULT;
    const offset = Number(rel % ps);
    return { page, offset, length: Math.min(length, this.kernel.pageSize - offset) };
  }
}
