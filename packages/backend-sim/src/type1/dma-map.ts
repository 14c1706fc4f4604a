// SPDX-License-Identifier: MIT
/** ≙ vfio_iommu_type1.c: vfio_dma_do_map, vfio_pin_map_dma, vfio_remove_dma, vfio_lock_acct. */
import { errnoNumber, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_MAP_FLAG_WRITE } from '@vfio-ts/uapi';
import { accountLockedVmBypass } from '../mm/account.js';
import type { Process } from '../mm/process.js';
import { IOMMU_READ, IOMMU_WRITE, VfioDma, type VfioIommu } from './vfio-iommu.js';

const EEXIST = errnoNumber('EEXIST');
const EINVAL = errnoNumber('EINVAL');
const ENOENT = errnoNumber('ENOENT');
const ENOMEM = errnoNumber('ENOMEM');
const ENOSPC = errnoNumber('ENOSPC');

const U64 = 2n ** 64n;

export interface DmaMapArgs {
  readonly flags: number;
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
}

/** @see vfio_iommu_type1.c vfio_lock_acct */
export function vfioLockAcct(dma: VfioDma, npage: number): number {
  if (npage === 0) return 0;
  const ret = accountLockedVmBypass(dma.task, Math.abs(npage), npage > 0, dma.lockCap);
  if (ret === 0) dma.locked += npage;
  return ret;
}

/** @see vfio_iommu_type1.c vfio_iova_dma_valid: inside one range of iova_list (any, when the list is empty). */
function vfioIommuIovaDmaValid(iommu: VfioIommu, start: bigint, end: bigint): boolean {
  if (iommu.iovaList.length === 0) return true;
  return iommu.iovaList.some((r) => start >= r.start && end <= r.end);
}

/** @see vfio_iommu_type1.c vfio_unmap_unpin: unpin, give back the locked pages. */
function vfioUnmapUnpin(dma: VfioDma): void {
  dma.task.unpinUserPages(dma.pages);
  dma.pages = [];
  vfioLockAcct(dma, -dma.locked);
}

/** @see vfio_iommu_type1.c vfio_remove_dma */
export function vfioRemoveDma(iommu: VfioIommu, dma: VfioDma): void {
  vfioUnmapUnpin(dma);
  if (dma.vaddrInvalid) iommu.vaddrInvalidCount--;
  iommu.unlinkDma(dma);
  iommu.dmaAvail++;
}

/**
 * @see vfio_iommu_type1.c vfio_pin_pages_remote / vfio_pin_map_dma
 * Page by page: a hole or protection fault gives -EFAULT, crossing RLIMIT_MEMLOCK -ENOMEM, whichever comes first.
 */
function vfioPinMapDma(iommu: VfioIommu, dma: VfioDma, size: bigint): number {
  const mm = dma.task;
  const ps = BigInt(iommu.kernel.pageSize);
  const npages = Number(size / ps);
  const limit = mm.rlimitMemlock >> BigInt(Math.log2(iommu.kernel.pageSize));
  const write = (dma.prot & IOMMU_WRITE) !== 0;
  let acct = 0;
  for (let i = 0; i < npages; i++) {
    const got = mm.pinUserPages(dma.vaddr + BigInt(i) * ps, 1, write);
    if (typeof got === 'number') {
      vfioLockAcct(dma, acct);
      return got;
    }
    if (!dma.lockCap && BigInt(mm.lockedVm + acct + 1) > limit) {
      mm.unpinUserPages(got);
      vfioLockAcct(dma, acct);
      return -ENOMEM;
    }
    dma.pages.push(got[0]!);
    acct++;
    dma.size += ps;
  }
  if (iommu.kernel.hooks.shouldFail('iommu_map')) {
    vfioLockAcct(dma, acct);
    return -ENOMEM;
  }
  return vfioLockAcct(dma, acct);
}

/** @see vfio_iommu_type1.c vfio_change_dma_owner: a VADDR update moves the locked-page charge to the caller. */
function vfioChangeDmaOwner(dma: VfioDma, current: Process): number {
  if (dma.task === current) return 0;
  const npages = dma.locked;
  const lockCap = current.capIpcLock;
  const ret = accountLockedVmBypass(current, npages, true, lockCap);
  if (ret !== 0) return ret;
  accountLockedVmBypass(dma.task, npages, false, dma.lockCap);
  dma.task = current;
  dma.lockCap = lockCap;
  return 0;
}

/** @see vfio_iommu_type1.c vfio_dma_do_map */
export function vfioDmaDoMap(iommu: VfioIommu, map: DmaMapArgs, current: Process): number {
  const setVaddr = (map.flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0;
  const { iova, vaddr, size } = map;
  let prot = 0;
  if (map.flags & VFIO_DMA_MAP_FLAG_WRITE) prot |= IOMMU_WRITE;
  if (map.flags & VFIO_DMA_MAP_FLAG_READ) prot |= IOMMU_READ;
  if ((prot !== 0 && setVaddr) || (prot === 0 && !setVaddr)) return -EINVAL;
  const pgmask = iommu.pgsize - 1n;
  if (size === 0n || ((size | iova | vaddr) & pgmask) !== 0n) return -EINVAL;
  // No IOVA or virtual address wrap.
  if (iova + size - 1n >= U64 || vaddr + size - 1n >= U64) return -EINVAL;
  const found = iommu.findDma(iova, size);
  if (setVaddr) {
    if (found === undefined) return -ENOENT;
    if (!found.vaddrInvalid || found.iova !== iova || found.size !== size) return -EINVAL;
    const ret = vfioChangeDmaOwner(found, current);
    if (ret !== 0) return ret;
    found.vaddr = vaddr;
    found.vaddrInvalid = false;
    iommu.vaddrInvalidCount--;
    return 0;
  }
  if (found !== undefined) return -EEXIST;
  if (iommu.dmaAvail === 0) return -ENOSPC;
  if (!vfioIommuIovaDmaValid(iommu, iova, iova + size - 1n)) return -EINVAL;
  if (iommu.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
  iommu.dmaAvail--;
  const dma = new VfioDma(iova, vaddr, prot, current, current.capIpcLock);
  // Linked zero-sized and grown as pages are pinned, like the kernel.
  iommu.linkDma(dma);
  let ret = vfioPinMapDma(iommu, dma, size);
  if (ret === 0 && iommu.dirtyPageTracking) dma.bitmap = true;
  if (ret !== 0) vfioRemoveDma(iommu, dma);
  else ret = 0;
  return ret;
}
