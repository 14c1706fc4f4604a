// SPDX-License-Identifier: MIT
/** ≙ the map/unmap engine of drivers/vfio/vfio_iommu_spapr_tce.c: filling and clearing TCEs. */
import { errnoNumber } from '@vfio-ts/uapi';
import type { SimPage } from '../mm/memory.js';
import {
  DMA_NONE,
  DMA_TO_DEVICE,
  type DmaDirection,
  type IommuTable,
  iommuDirectionToTcePerm,
  iommuTceDirection,
  TCE_PCI_READ,
  TCE_PCI_WRITE,
  type Tce,
} from '../powerpc/iommu-table.js';
import {
  type MmIommuTableGroupMem,
  mmIommuLookup,
  mmIommuMappedDec,
  mmIommuMappedInc,
  mmIommuUaToHpa,
} from '../powerpc/mm-iommu.js';
import type { IommuTableGroup } from '../powerpc/table-group.js';
import type { TceContainer } from './tce-container.js';

const EINVAL = errnoNumber('EINVAL');
const EFAULT = errnoNumber('EFAULT');
const EPERM = errnoNumber('EPERM');
const ENOMEM = errnoNumber('ENOMEM');

/** Below this many entries a clear probes each one; above, it walks the table's present entries. */
const SMALL_CLEAR = 4096;

/** The platform behind a container's tables (all groups share one platform: attach checks create_table). */
function platformOf(container: TceContainer): IommuTableGroup | null {
  return container.firstTableGroup();
}

/**
 * @see arch/powerpc/kernel/iommu.c iommu_tce_xchg_no_kill (→ it_ops->xchg_no_kill: pnv_tce_xchg / tce_exchange_pseries)
 * Returns the old TCE (undefined when the entry was empty), or a negative status.
 */
export function iommuTceXchgNoKill(
  container: TceContainer,
  tbl: IommuTable,
  entry: number,
  next: Omit<Tce, 'perm'> | undefined,
  direction: DmaDirection,
): { old: Tce | undefined } | number {
  const tg = platformOf(container);
  if (!tbl.contains(entry)) {
    // Kernel UB (iommu_tce_check_ioba only checks the first page): the platform's answer, nothing stored.
    const ret = tg === null ? 0 : tg.ops.xchgOutOfWindow(tg);
    return ret ? ret : { old: undefined };
  }
  let tce: Tce | undefined;
  if (next !== undefined && direction !== DMA_NONE) {
    let perm = iommuDirectionToTcePerm(direction);
    // pnv_tce_xchg grants read with write; the pseries hypervisor stores the bits as given.
    if (tg?.params.platform === 'ioda2' && perm & TCE_PCI_WRITE) perm |= TCE_PCI_READ;
    tce = { hpa: next.hpa, perm, pages: next.pages, index: next.index, offset: next.offset };
  }
  const old = tbl.xchg(entry, tce);
  if (old === -1) return -ENOMEM;
  return { old };
}

/** @see vfio_iommu_spapr_tce.c tce_page_is_contained — the backing (compound) page must cover the IOMMU page. */
function tcePageIsContained(page: SimPage, itPageShift: number): boolean {
  return Math.log2(page.compoundSize) >= itPageShift;
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_unuse_page */
function tceIommuUnusePage(container: TceContainer, tce: Tce): void {
  container.mm?.unpinUserPages([tce.pages[tce.index]!]);
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_prereg_ua_to_hpa */
function tceIommuPreregUaToHpa(
  container: TceContainer,
  ua: bigint,
  shift: number,
): { mem: MmIommuTableGroupMem; hpa: bigint; index: number; offset: number } | number {
  if (container.mm === null) return -EINVAL;
  const mem = mmIommuLookup(container.mm, ua, 1n << BigInt(shift));
  if (mem === null) return -EINVAL;
  const r = mmIommuUaToHpa(mem, ua, shift);
  if (typeof r === 'number') return -EINVAL;
  return { mem, ...r };
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_unuse_page_v2 — drops the mapping count of the region the entry used. */
function tceIommuUnusePageV2(container: TceContainer, tbl: IommuTable, entry: number): void {
  const ua = tbl.userspaceGet(entry);
  if (ua === undefined) return;
  const r = tceIommuPreregUaToHpa(container, ua, tbl.itPageShift);
  if (typeof r !== 'number') mmIommuMappedDec(r.mem);
  tbl.userspaceSet(entry, 0n, false);
}

/**
 * @see vfio_iommu_spapr_tce.c tce_iommu_clear — always 0. Only entries that hold a TCE can change, so the walk
 * visits the present ones (the kernel skips missing levels the same way).
 */
export function tceIommuClear(container: TceContainer, tbl: IommuTable, entry: number, pages: number): number {
  const last = entry + pages;
  const present: number[] = [];
  if (pages <= SMALL_CLEAR) {
    for (let e = entry; e < last; e++) if (tbl.contains(e) && tbl.get(e) !== undefined) present.push(e);
  } else {
    for (const [e] of tbl.entries()) if (e >= entry && e < last) present.push(e);
  }
  for (const e of present) {
    const r = iommuTceXchgNoKill(container, tbl, e, undefined, DMA_NONE);
    if (typeof r === 'number' || r.old === undefined) continue;
    if (container.v2) {
      tceIommuUnusePageV2(container, tbl, e);
      continue;
    }
    tceIommuUnusePage(container, r.old);
  }
  return 0;
}

/**
 * @see vfio_iommu_spapr_tce.c tce_iommu_build (v1: pin each IOMMU page's system page)
 * tce_iommu_use_page derives the pin direction from the low bits of the (page-aligned) address, which are 0, so
 * every v1 pin asks for write access whatever the MAP flags say.
 */
export function tceIommuBuild(
  container: TceContainer,
  tbl: IommuTable,
  entry: number,
  vaddr: bigint,
  pages: number,
  direction: DmaDirection,
): number {
  const mm = container.mm;
  if (mm === null) return -EFAULT;
  const pageSize = BigInt(mm.pageSize);
  const iommuPageSize = 1n << BigInt(tbl.itPageShift);
  let ret = 0;
  let i = 0;
  let tce = vaddr;
  for (; i < pages; i++) {
    const offset = Number(tce & ~(iommuPageSize - 1n) & (pageSize - 1n));
    const pinDirection = iommuTceDirection(Number(tce & 3n));
    const pinned = mm.pinUserPages(tce & ~(pageSize - 1n), 1, pinDirection !== DMA_TO_DEVICE);
    if (typeof pinned === 'number') {
      ret = -EFAULT;
      break;
    }
    const page = pinned[0]!;
    if (!tcePageIsContained(page, tbl.itPageShift)) {
      // The kernel returns without unpinning: the pin leaks.
      ret = -EPERM;
      break;
    }
    const next = { hpa: page.hpa + BigInt(offset), pages: pinned, index: 0, offset };
    const r = iommuTceXchgNoKill(container, tbl, entry + i, next, direction);
    if (typeof r === 'number') {
      mm.unpinUserPages(pinned);
      ret = r;
      break;
    }
    if (r.old !== undefined) tceIommuUnusePage(container, r.old);
    tce += iommuPageSize;
  }
  if (ret) tceIommuClear(container, tbl, entry, i);
  return ret;
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_build_v2 (v2: look each page up in the pre-registered regions) */
export function tceIommuBuildV2(
  container: TceContainer,
  tbl: IommuTable,
  entry: number,
  vaddr: bigint,
  pages: number,
  direction: DmaDirection,
): number {
  const iommuPageSize = 1n << BigInt(tbl.itPageShift);
  let ret = 0;
  let i = 0;
  let tce = vaddr;
  for (; i < pages; i++) {
    const r = tceIommuPreregUaToHpa(container, tce, tbl.itPageShift);
    if (typeof r === 'number') {
      ret = r;
      break;
    }
    if (!tcePageIsContained(r.mem.pages[r.index]!, tbl.itPageShift)) {
      ret = -EPERM;
      break;
    }
    // A region being torn down refuses new mappings; the kernel stops with success here.
    if (mmIommuMappedInc(r.mem)) break;
    const next = { hpa: r.hpa, pages: r.mem.pages, index: r.index, offset: r.offset };
    const x = iommuTceXchgNoKill(container, tbl, entry + i, next, direction);
    if (typeof x === 'number') {
      // The kernel drops the count of whatever the userspace view held (the old entry), not of r.mem.
      tceIommuUnusePageV2(container, tbl, entry + i);
      ret = x;
      break;
    }
    if (x.old !== undefined) tceIommuUnusePageV2(container, tbl, entry + i);
    tbl.userspaceSet(entry + i, tce, true);
    tce += iommuPageSize;
  }
  if (ret) tceIommuClear(container, tbl, entry, i);
  return ret;
}
