// SPDX-License-Identifier: MIT
/** ≙ the window half of drivers/vfio/vfio_iommu_spapr_tce.c: DMA windows (TCE tables) and their accounting. */
import { errnoNumber } from '@vfio-ts/uapi';
import { accountLockedVm } from '../mm/process.js';
import type { IommuTable } from '../powerpc/iommu-table.js';
import { IOMMU_TABLE_GROUP_MAX_TABLES, type IommuTableGroup } from '../powerpc/table-group.js';
import { tceIommuClear } from './build.js';
import type { TceContainer } from './tce-container.js';

const EINVAL = errnoNumber('EINVAL');
const EFAULT = errnoNumber('EFAULT');
const ENODEV = errnoNumber('ENODEV');
const ENOSPC = errnoNumber('ENOSPC');
const EPERM = errnoNumber('EPERM');

/** IOMMU_PAGE_SHIFT_4K: the default window always uses 4K IOMMU pages. */
const IOMMU_PAGE_SHIFT_4K = 12;

/** @see vfio_iommu_spapr_tce.c tce_iommu_find_table — containment of the IOMMU page of `ioba`, not an exact start. */
export function tceIommuFindTable(container: TceContainer, ioba: bigint): { num: number; tbl: IommuTable } | null {
  for (let i = 0; i < IOMMU_TABLE_GROUP_MAX_TABLES; i++) {
    const tbl = container.tables[i];
    if (!tbl) continue;
    const entry = Number(BigInt.asUintN(64, ioba) >> BigInt(tbl.itPageShift));
    if (tbl.contains(entry)) return { num: i, tbl };
  }
  return null;
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_find_free_table — the lowest free slot. */
export function tceIommuFindFreeTable(container: TceContainer): number {
  for (let i = 0; i < IOMMU_TABLE_GROUP_MAX_TABLES; i++) {
    if (!container.tables[i]) return i;
  }
  return -ENOSPC;
}

/** locked_vm pages for a byte count (>> PAGE_SHIFT). */
function bytesToPages(container: TceContainer, bytes: bigint): number {
  return Number(bytes >> BigInt(Math.log2(container.kernel.pageSize)));
}

/**
 * @see vfio_iommu_spapr_tce.c tce_iommu_create_table
 * The charge is not given back when create_table fails afterwards: the kernel leaks it (SPAPR-SCENARIOS.md Q4).
 */
export function tceIommuCreateTable(
  container: TceContainer,
  tableGroup: IommuTableGroup,
  num: number,
  pageShift: number,
  windowSize: bigint,
  levels: number,
): IommuTable | number {
  const tableSize = tableGroup.ops.getTableSize(tableGroup, pageShift, windowSize, levels);
  if (tableSize === 0n) return -EINVAL;
  // container->mm is bound on every path that gets here (MAP/UNMAP need `enabled`, CREATE binds first).
  const mm = container.mm;
  if (mm !== null) {
    const ret = accountLockedVm(mm, bytesToPages(container, tableSize), true);
    if (ret) return ret;
  }
  return tableGroup.ops.createTable(tableGroup, num, pageShift, windowSize, levels);
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_free_table */
export function tceIommuFreeTable(container: TceContainer, tbl: IommuTable): void {
  const pages = bytesToPages(container, tbl.itAllocatedSize);
  if (container.mm !== null) accountLockedVm(container.mm, pages, false);
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_create_window */
export function tceIommuCreateWindow(
  container: TceContainer,
  pageShift: number,
  windowSize: bigint,
  levels: number,
): { startAddr: bigint } | number {
  const num = tceIommuFindFreeTable(container);
  if (num < 0) return num;
  const tableGroup = container.firstTableGroup();
  if (tableGroup === null) return -EFAULT;
  if (pageShift >= 64 || (tableGroup.pgsizes & (1n << BigInt(pageShift))) === 0n) return -EINVAL;

  const tbl = tceIommuCreateTable(container, tableGroup, num, pageShift, windowSize, levels);
  if (typeof tbl === 'number') return tbl;

  // Every group gets the table; compatibility was checked at attach time.
  for (const group of container.groupList) {
    const tg = container.tableGroupOf(group);
    const ret = tg === null ? -EPERM : tg.ops.setWindow(tg, num, tbl);
    if (ret) {
      for (const g of container.groupList) {
        const t = container.tableGroupOf(g);
        t?.ops.unsetWindow(t, num);
      }
      tceIommuFreeTable(container, tbl);
      return ret;
    }
  }
  container.tables[num] = tbl;
  return { startAddr: tbl.startAddr };
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_remove_window */
export function tceIommuRemoveWindow(container: TceContainer, startAddr: bigint): number {
  const found = tceIommuFindTable(container, startAddr);
  if (found === null) return -EINVAL;
  const { num, tbl } = found;
  tceIommuClear(container, tbl, tbl.itOffset, tbl.itSize);
  for (const group of container.groupList) {
    const tg = container.tableGroupOf(group);
    // The mappings are already gone when a platform refuses to drop the window.
    if (tg === null) return -EPERM;
    tg.ops.unsetWindow(tg, num);
  }
  tceIommuFreeTable(container, tbl);
  container.tables[num] = null;
  return 0;
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_create_default_window — runs lazily from MAP, UNMAP and CREATE. */
export function tceIommuCreateDefaultWindow(container: TceContainer): number {
  if (!container.defWindowPending) return 0;
  if (!container.groupsAttached) return -ENODEV;
  const tableGroup = container.firstTableGroup();
  if (tableGroup === null) return -ENODEV;
  const ret = tceIommuCreateWindow(container, IOMMU_PAGE_SHIFT_4K, BigInt(tableGroup.tce32Size), 1);
  if (typeof ret === 'number') return ret;
  container.defWindowPending = false;
  return 0;
}
