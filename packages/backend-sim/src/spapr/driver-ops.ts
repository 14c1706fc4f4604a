// SPDX-License-Identifier: MIT
/** ≙ tce_iommu_driver_ops (drivers/vfio/vfio_iommu_spapr_tce.c): the sPAPR TCE IOMMU as a VFIO container driver. */
import { errnoNumber, VFIO_SPAPR_TCE_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU } from '@vfio-ts/uapi';
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { IommuContext, VfioIommuDriverOps } from '../vfio/iommu-driver.js';
import type { UserArg } from '../vfio/user-arg.js';
import { tceIommuAttachGroup, tceIommuDetachGroup } from './groups.js';
import { eehEnabled, tceIommuDisable, tceIommuIoctl } from './ioctl.js';
import { tceIommuPreregFree } from './prereg.js';
import { TceContainer } from './tce-container.js';
import { tceIommuFreeTable } from './windows.js';

const EINVAL = errnoNumber('EINVAL');

/** @see vfio_iommu_spapr_tce.c tce_iommu_open */
export function tceIommuOpen(arg: number, ctx: IommuContext): TceContainer | number {
  if (arg !== VFIO_SPAPR_TCE_IOMMU && arg !== VFIO_SPAPR_TCE_v2_IOMMU) return -EINVAL;
  return new TceContainer(ctx.kernel, arg === VFIO_SPAPR_TCE_v2_IOMMU);
}

/**
 * @see vfio_iommu_spapr_tce.c tce_iommu_release — at the last group's detach, or when SET_IOMMU fails after open.
 * Tables are freed (and uncharged) here, not at detach.
 */
export function tceIommuRelease(container: TceContainer): void {
  while (container.groupList.length > 0) tceIommuDetachGroup(container, container.groupList[0]!);
  for (let i = 0; i < container.tables.length; i++) {
    const tbl = container.tables[i];
    if (!tbl) continue;
    tceIommuFreeTable(container, tbl);
    container.tables[i] = null;
  }
  // A region another container of the process still maps stays behind as an orphan (the kernel WARNs).
  for (const mem of [...container.preregList]) tceIommuPreregFree(container, mem);
  tceIommuDisable(container);
  container.mm = null;
}

export const tceIommuDriverOps: VfioIommuDriverOps<TceContainer> = {
  name: 'iommu-vfio-powerpc',
  open: tceIommuOpen,
  release(container: TceContainer): void {
    tceIommuRelease(container);
  },
  ioctl(container: TceContainer | null, request: number, arg: UserArg, ctx: IommuContext): number {
    return tceIommuIoctl(container, request, arg, ctx.process, ctx.arch, eehEnabled(ctx));
  },
  attachGroup(container: TceContainer, group: IommuGroup): number {
    return tceIommuAttachGroup(container, group);
  },
  detachGroup(container: TceContainer, group: IommuGroup): void {
    tceIommuDetachGroup(container, group);
  },
};
