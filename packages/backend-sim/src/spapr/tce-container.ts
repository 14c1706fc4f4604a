// SPDX-License-Identifier: MIT
/** ≙ struct tce_container (drivers/vfio/vfio_iommu_spapr_tce.c): the sPAPR driver's per-container state. */
import { errnoNumber } from '@vfio-ts/uapi';
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import type { IommuTable } from '../powerpc/iommu-table.js';
import type { MmIommuTableGroupMem } from '../powerpc/mm-iommu.js';
import { type IommuTableGroup, iommuGroupGetIommudata } from '../powerpc/table-group.js';

const EPERM = errnoNumber('EPERM');

/** Something the real kernel does not survive or leaves undefined, answered deterministically here. */
export interface KernelUbEvent {
  readonly kind: 'map-past-window' | 'unmap-past-window';
  readonly iova: bigint;
  readonly size: bigint;
  /** What the real kernel does: 'oops' (crash, VFIO wedged) or 'ub' (out-of-bounds table access). */
  readonly realKernel: 'oops' | 'ub';
}

export class TceContainer {
  enabled = false;
  readonly v2: boolean;
  defWindowPending = false;
  /** v1: pages charged by ENABLE. */
  lockedPages = 0;
  /** The process bound by the first ENABLE/REGISTER/CREATE/REMOVE (container->mm). */
  mm: Process | null = null;
  readonly tables: (IommuTable | null)[] = [null, null];
  /** ≙ group_list: list_add puts the newest attached group first. */
  readonly groupList: IommuGroup[] = [];
  /** ≙ prereg_list: the regions this container holds a reference on, newest first. */
  readonly preregList: MmIommuTableGroupMem[] = [];
  /** Kernel-UB paths taken (see SPAPR-SCENARIOS.md); test observation only. */
  readonly ubEvents: KernelUbEvent[] = [];

  constructor(
    readonly kernel: SimKernel,
    v2: boolean,
  ) {
    this.v2 = v2;
  }

  /** @see vfio_iommu_spapr_tce.c tce_groups_attached */
  get groupsAttached(): boolean {
    return this.groupList.length > 0;
  }

  /** list_first_entry(&container->group_list)'s table_group: the most recently attached group. */
  firstTableGroup(): IommuTableGroup | null {
    const first = this.groupList[0];
    return first === undefined ? null : iommuGroupGetIommudata(this.kernel, first);
  }

  tableGroupOf(group: IommuGroup): IommuTableGroup | null {
    return iommuGroupGetIommudata(this.kernel, group);
  }
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_mm_set */
export function tceIommuMmSet(container: TceContainer, current: Process): number {
  if (container.mm !== null) return container.mm === current ? 0 : -EPERM;
  container.mm = current;
  return 0;
}
