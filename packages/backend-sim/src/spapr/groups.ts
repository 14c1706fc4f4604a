// SPDX-License-Identifier: MIT
/** ≙ the group half of drivers/vfio/vfio_iommu_spapr_tce.c: attach/detach and PE ownership. */
import { errnoNumber } from '@vfio-ts/uapi';
import type { IommuGroup } from '../iommu/iommu-group.js';
import { IOMMU_TABLE_GROUP_MAX_TABLES, type IommuTableGroup } from '../powerpc/table-group.js';
import { tceIommuClear } from './build.js';
import type { TceContainer } from './tce-container.js';

const EBUSY = errnoNumber('EBUSY');
const EINVAL = errnoNumber('EINVAL');
const ENODEV = errnoNumber('ENODEV');
const ENOMEM = errnoNumber('ENOMEM');
const EPERM = errnoNumber('EPERM');

/**
 * ≙ iommu_group_claim_dma_owner → table_group->ops->take_ownership, which the kernel runs at SET_CONTAINER.
 * The simulator does it on the driver's first attach of the group; nothing user-visible happens in between.
 */
function claimPlatformOwnership(tableGroup: IommuTableGroup): number {
  if (tableGroup.owned) return 0;
  const ret = tableGroup.ops.takeOwnership(tableGroup);
  if (ret) return ret;
  tableGroup.group.dma = tableGroup.translator;
  return 0;
}

/** ≙ iommu_group_release_dma_owner: the platform restores its kernel DMA setup; VFIO's windows no longer translate. */
function releasePlatformOwnership(tableGroup: IommuTableGroup): void {
  if (!tableGroup.owned) return;
  tableGroup.ops.releaseOwnership(tableGroup);
  tableGroup.group.dma = null;
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_take_ownership — program every existing window into the new group. */
function tceIommuTakeOwnership(container: TceContainer, tableGroup: IommuTableGroup): number {
  for (let i = 0; i < IOMMU_TABLE_GROUP_MAX_TABLES; i++) {
    const tbl = container.tables[i];
    if (!tbl) continue;
    const ret = tableGroup.ops.setWindow(tableGroup, i, tbl);
    if (ret) {
      for (let j = 0; j < IOMMU_TABLE_GROUP_MAX_TABLES; j++) tableGroup.ops.unsetWindow(tableGroup, j);
      return ret;
    }
  }
  return 0;
}

/**
 * @see vfio_iommu_spapr_tce.c tce_iommu_release_ownership
 * The tables are shared, so clearing them wipes every mapping for every other group of the container too (Q6).
 */
function tceIommuReleaseOwnership(container: TceContainer, tableGroup: IommuTableGroup): void {
  for (let i = 0; i < IOMMU_TABLE_GROUP_MAX_TABLES; i++) {
    const tbl = container.tables[i];
    if (!tbl) continue;
    tceIommuClear(container, tbl, tbl.itOffset, tbl.itSize);
    tableGroup.ops.unsetWindow(tableGroup, i);
  }
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_attach_group */
export function tceIommuAttachGroup(container: TceContainer, group: IommuGroup, emulated = false): number {
  if (emulated) return -EINVAL;
  const tableGroup = container.tableGroupOf(group);
  if (tableGroup === null) return -ENODEV;
  // v2 requires full support of dynamic DMA windows.
  if (container.v2 && tableGroup.maxDynamicWindowsSupported === 0) return -EINVAL;
  // v1 reuses the platform's TCE table and does not share it among PEs.
  if (!container.v2 && container.groupsAttached) return -EBUSY;
  for (const other of container.groupList) {
    if (other === group) return -EBUSY;
    const otherTg = container.tableGroupOf(other);
    if (otherTg === null || otherTg.ops.createTable !== tableGroup.ops.createTable) return -EPERM;
  }
  if (container.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;

  let ret = claimPlatformOwnership(tableGroup);
  if (!ret) ret = tceIommuTakeOwnership(container, tableGroup);
  // Set even when taking ownership failed, as the kernel does.
  if (!container.groupsAttached && !container.tables[0]) container.defWindowPending = true;
  if (!ret) container.groupList.unshift(group);
  else releasePlatformOwnership(tableGroup);
  return ret;
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_detach_group — tables are kept and stay charged. */
export function tceIommuDetachGroup(container: TceContainer, group: IommuGroup): void {
  const i = container.groupList.indexOf(group);
  if (i < 0) return;
  container.groupList.splice(i, 1);
  const tableGroup = container.tableGroupOf(group);
  if (tableGroup === null) return;
  tceIommuReleaseOwnership(container, tableGroup);
  releasePlatformOwnership(tableGroup);
}
