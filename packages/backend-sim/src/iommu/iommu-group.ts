// SPDX-License-Identifier: MIT
/** ≙ struct iommu_group (drivers/iommu/iommu.c): the unit of isolation VFIO hands to user space. */
import type { SimPage } from '../mm/memory.js';

/**
 * A device on the simulated bus. `driver` is who it is bound to: 'vfio-pci' (driver_managed_dma), a host driver
 * (which claims DMA ownership and makes the group non-viable), or nothing.
 */
export interface SimDevice {
  readonly name: string;
  readonly group: IommuGroup;
  driver: 'vfio-pci' | 'host' | null;
}

export interface DmaWindow {
  readonly page: SimPage;
  readonly offset: number;
  readonly length: number;
}

export interface DmaTranslator {
  /**
   * iova -> a byte window in a pinned page (at most up to the end of that IOMMU page), or a fault:
   * -EFAULT (nothing mapped at iova) / -EPERM (mapped without the needed permission).
   */
  translate(iova: bigint, length: number, write: boolean): DmaWindow | number;
}

export interface IommuFault {
  readonly group: number;
  readonly device: string;
  readonly iova: bigint;
  readonly write: boolean;
  /** Negative errno from the translator: -EFAULT unmapped, -EPERM permission. */
  readonly reason: number;
}

export class IommuGroup {
  readonly devices: SimDevice[] = [];
  /** Owned by the attached IOMMU driver (≙ iommudata / table_group). */
  iommuData: unknown = null;
  /** Set by the IOMMU driver while attached: how devices in the group see memory. null blocks all DMA. */
  dma: DmaTranslator | null = null;
  /** ≙ group->owner_cnt / group->owner (iommu_group_claim_dma_owner). */
  ownerCnt = 0;
  owner: unknown = null;
  /** Platform data for the IOMMU driver (≙ iommu_table_group on powerpc); its shape belongs to that driver. */
  platformData: unknown = null;

  constructor(readonly id: number) {}

  /** ≙ iommu_group_dma_owner_claimed from the kernel-driver side: a bound host driver owns DMA. */
  get hostDriverOwned(): boolean {
    return this.devices.some((d) => d.driver === 'host');
  }
}
