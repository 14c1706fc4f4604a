// SPDX-License-Identifier: MIT
/**
 * ≙ arch/powerpc/platforms/powernv/pci-ioda.c (pnv_pci_ioda2_* table_group ops) and pci-ioda-tce.c
 * (pnv_pci_ioda2_table_alloc_pages): IODA2 PHBs of POWER8/9/10 bare metal.
 */
import { errnoNumber } from '@vfio-ts/uapi';
import { IommuTable } from '../iommu-table.js';
import type { IommuTableGroup, IommuTableGroupOps } from '../table-group.js';

const EINVAL = errnoNumber('EINVAL');
const ENOMEM = errnoNumber('ENOMEM');

/** POWERNV_IOMMU_MAX_LEVELS */
export const POWERNV_IOMMU_MAX_LEVELS = 5;
/** Linux's default MAX_PAGE_ORDER on ppc64 (largest alloc_pages order). */
const DEFAULT_MAX_PAGE_ORDER = 8;

export function isPowerOf2(n: bigint): boolean {
  return n > 0n && (n & (n - 1n)) === 0n;
}

export function ilog2(n: bigint): number {
  return n.toString(2).length - 1;
}

function alignUp(n: bigint, to: bigint): bigint {
  return ((n + to - 1n) / to) * to;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** @see arch/powerpc/platforms/powernv/pci-ioda.c pnv_pci_ioda2_get_table_size */
export function pnvPciIoda2GetTableSize(
  pageShift: number,
  windowSize: bigint,
  levels: number,
  kernelPageShift: number,
): bigint {
  if (levels === 0 || levels > POWERNV_IOMMU_MAX_LEVELS || !isPowerOf2(windowSize)) return 0n;
  const windowShift = ilog2(windowSize);
  // The kernel's unsigned arithmetic makes a window below one IOMMU page undefined; the simulator refuses it.
  if (windowShift < pageShift) return 0n;
  let entriesShift = windowShift - pageShift;
  let tceTableSize = maxBig(0x1000n, 1n << BigInt(entriesShift + 3));
  entriesShift = Math.floor((entriesShift + levels - 1) / levels);
  const tableShift = Math.max(entriesShift + 3, kernelPageShift);
  const directTableSize = 1n << BigInt(tableShift);
  let bytes = 0n;
  for (let l = levels; l > 0; l--) {
    bytes += alignUp(tceTableSize, directTableSize);
    tceTableSize /= directTableSize;
    tceTableSize <<= 3n;
    tceTableSize = maxBig(tceTableSize, directTableSize);
  }
  // One copy for the hardware table, one for the userspace view (it_userspace).
  return bytes + bytes;
}

/**
 * @see arch/powerpc/platforms/powernv/pci-ioda-tce.c pnv_pci_ioda2_table_alloc_pages
 * Only the top level is allocated here; lower levels come on demand from pnv_tce() during MAP.
 */
export function pnvPciIoda2TableAllocPages(
  tg: IommuTableGroup,
  busOffset: bigint,
  pageShift: number,
  windowSize: bigint,
  levels: number,
): IommuTable | number {
  const kernelPageShift = tg.pageShift;
  const maxPageOrder = tg.params.maxPageOrder ?? DEFAULT_MAX_PAGE_ORDER;
  if (levels === 0 || levels > POWERNV_IOMMU_MAX_LEVELS) return -EINVAL;
  if (!isPowerOf2(windowSize)) return -EINVAL;
  const windowShift = ilog2(windowSize);
  let entriesShift = windowShift - pageShift;
  const tableShift = Math.max(entriesShift + 3, kernelPageShift);
  entriesShift = Math.floor((entriesShift + levels - 1) / levels);
  const levelShift = Math.max(entriesShift + 3, kernelPageShift);
  if ((levelShift - 3) * levels + pageShift >= 55) return -EINVAL;

  const hooks = tg.kernel.hooks;
  // ≙ pnv_alloc_tce_level(): alloc_pages_node() of order levelShift - PAGE_SHIFT.
  const allocLevel = (shift: number): boolean =>
    shift - kernelPageShift <= maxPageOrder && !hooks.shouldFail('iommu_table_alloc');
  // The hardware table's top level, then the userspace view's.
  if (!allocLevel(levelShift)) return -ENOMEM;
  if (!allocLevel(levelShift)) return -ENOMEM;

  return new IommuTable({
    itOffset: Number(busOffset >> BigInt(pageShift)),
    // it_size comes from the table's byte size, which is at least a page: tiny windows get more entries.
    itSize: 2 ** (tableShift - 3),
    itPageShift: pageShift,
    levels,
    itLevelSize: 2 ** (levelShift - 3),
    userspaceView: true,
    allocLevel,
  });
}

export const pnvIoda2TableGroupOps: IommuTableGroupOps = {
  name: 'pnv_pci_ioda2_ops',

  getTableSize(tg, pageShift, windowSize, levels) {
    return pnvPciIoda2GetTableSize(pageShift, windowSize, levels, tg.pageShift);
  },

  /** @see arch/powerpc/platforms/powernv/pci-ioda.c pnv_pci_ioda2_create_table_userspace */
  createTable(tg, num, pageShift, windowSize, levels) {
    const busOffset = num ? (tg.params.tceBypassBase ?? 1n << 59n) : tg.tce32Start;
    const tbl = pnvPciIoda2TableAllocPages(tg, busOffset, pageShift, windowSize, levels);
    if (typeof tbl === 'number') return tbl;
    tbl.itAllocatedSize = pnvPciIoda2GetTableSize(pageShift, windowSize, levels, tg.pageShift);
    return tbl;
  },

  /** @see arch/powerpc/platforms/powernv/pci-ioda.c pnv_pci_ioda2_set_window */
  setWindow(tg, num, tbl) {
    tg.tables[num] = tbl;
    return 0;
  },

  /** @see arch/powerpc/platforms/powernv/pci-ioda.c pnv_pci_ioda2_unset_window */
  unsetWindow(tg, num) {
    tg.tables[num] = null;
    return 0;
  },

  /** @see arch/powerpc/platforms/powernv/pci-ioda.c pnv_ioda2_take_ownership — the kernel's window 0 and bypass go. */
  takeOwnership(tg) {
    tg.tables[0] = null;
    tg.tables[1] = null;
    tg.owned = true;
    return 0;
  },

  /** @see arch/powerpc/platforms/powernv/pci-ioda.c pnv_ioda2_release_ownership */
  releaseOwnership(tg) {
    tg.owned = false;
  },

  xchgOutOfWindow() {
    // pnv_tce() indexes past the table's memory and the write "succeeds": report success, store nothing.
    return 0;
  },
};
