// SPDX-License-Identifier: MIT
/**
 * ≙ struct iommu_table_group and iommu_table_group_ops (arch/powerpc/include/asm/iommu.h): what a PE/PHB offers
 * VFIO — the 32-bit window, page sizes, number of windows and levels — and the platform hooks that create and
 * program windows. One IommuTableGroup per IOMMU group of a kernel, made from the profile's GroupSpec.platformData.
 */
import { errnoNumber } from '@vfio-ts/uapi';
import type { DmaTranslator, DmaWindow, IommuGroup } from '../iommu/iommu-group.js';
import type { SimKernel } from '../kernel.js';
import { EehPe } from './eeh.js';
import { type IommuTable, TCE_PCI_READ, TCE_PCI_WRITE } from './iommu-table.js';
import { pnvIoda2TableGroupOps } from './platforms/ioda2.js';
import { spaprTceTableGroupOps } from './platforms/pseries.js';

const EFAULT = errnoNumber('EFAULT');
const EPERM = errnoNumber('EPERM');
const EIO = errnoNumber('EIO');

/** IOMMU_TABLE_GROUP_MAX_TABLES */
export const IOMMU_TABLE_GROUP_MAX_TABLES = 2;

/** pseries firmware (RTAS DDW) as QEMU's spapr PHB implements it. */
export interface PseriesDdwParams {
  /** Bus address firmware gives a window created while another window is active (QEMU dma64_win_addr). */
  readonly dma64WindowAddr: bigint;
  /** ibm,query-pe-dma-window "largest available block", in TCEs (QEMU: RAM size >> 12). */
  readonly largestAvailableBlock: bigint;
  /** QEMU SPAPR_PCI_DMA_MAX_WINDOWS */
  readonly maxWindows: number;
}

/** What a profile puts into GroupSpec.platformData for an sPAPR group. */
export interface TableGroupParams {
  /** Which iommu_table_group_ops the PE has; groups of different platforms are incompatible (EPERM). */
  readonly platform: 'ioda2' | 'pseries';
  readonly tce32Start: bigint;
  readonly tce32Size: number;
  readonly pgsizes: bigint;
  readonly maxLevels: number;
  /** u32; 0xffffffff is what pseries stores when the DDW query fails. */
  readonly maxDynamicWindowsSupported: number;
  /** The PE has an EEH PE (eeh_iommu_group_to_pe() non-NULL). */
  readonly eehPe: boolean;
  /** ioda2: pe->tce_bypass_base, the bus address of window #1. */
  readonly tceBypassBase?: bigint;
  /** ioda2: largest contiguous allocation is 2^(PAGE_SHIFT + maxPageOrder) bytes. */
  readonly maxPageOrder?: number;
  readonly ddw?: PseriesDdwParams;
}

/** Platform-wide sPAPR parameters (PlatformProfile.spapr). */
export interface SpaprPlatformParams {
  /** eeh_enabled(): answers CHECK_EXTENSION(VFIO_EEH) and EEH PE ENABLE. */
  readonly eehEnabled: boolean;
}

/** ≙ struct iommu_table_group_ops */
export interface IommuTableGroupOps {
  readonly name: string;
  /** Bytes the table costs (charged to locked_vm); 0n means the geometry is invalid. */
  getTableSize(tg: IommuTableGroup, pageShift: number, windowSize: bigint, levels: number): bigint;
  createTable(
    tg: IommuTableGroup,
    num: number,
    pageShift: number,
    windowSize: bigint,
    levels: number,
  ): IommuTable | number;
  setWindow(tg: IommuTableGroup, num: number, tbl: IommuTable): number;
  unsetWindow(tg: IommuTableGroup, num: number): number;
  takeOwnership(tg: IommuTableGroup): number;
  releaseOwnership(tg: IommuTableGroup): void;
  /**
   * ≙ it_ops->xchg_no_kill for an entry outside the window (kernel UB, see SPAPR-SCENARIOS.md): the platform's
   * answer. pseries' hypervisor rejects the H_PUT_TCE (H_PARAMETER); powernv writes past its table.
   */
  xchgOutOfWindow(tg: IommuTableGroup): number;
}

/** ≙ struct iommu_table_group */
export class IommuTableGroup {
  readonly tce32Start: bigint;
  readonly tce32Size: number;
  readonly pgsizes: bigint;
  readonly maxDynamicWindowsSupported: number;
  readonly maxLevels: number;
  /** The windows programmed into the PE (what the hardware translates through). */
  readonly tables: (IommuTable | null)[] = [null, null];
  readonly pe: EehPe | null;
  /** Platform firmware/hardware state beyond the tables (pseries DDW bookkeeping). */
  readonly platformState: Record<string, unknown> = {};
  owned = false;
  /** DMA through this PE: windows → TCE → pinned page. Installed on the IOMMU group while VFIO owns it. */
  readonly translator: DmaTranslator;

  constructor(
    readonly kernel: SimKernel,
    readonly group: IommuGroup,
    readonly params: TableGroupParams,
    readonly ops: IommuTableGroupOps,
  ) {
    this.tce32Start = params.tce32Start;
    this.tce32Size = params.tce32Size;
    this.pgsizes = params.pgsizes;
    this.maxDynamicWindowsSupported = params.maxDynamicWindowsSupported >>> 0;
    this.maxLevels = params.maxLevels;
    const spapr = kernel.profile.spapr as SpaprPlatformParams | undefined;
    this.pe = params.eehPe ? new EehPe(() => spapr?.eehEnabled ?? false) : null;
    this.translator = { translate: (iova, length, write) => this.translate(iova, length, write) };
  }

  /** PAGE_SHIFT of the simulated kernel. */
  get pageShift(): number {
    return Math.log2(this.kernel.pageSize);
  }

  /**
   * What the PHB does with a DMA: find the window, read the TCE, check its permission, reach the page.
   * A frozen PE (EEH) drops DMA: -EIO.
   */
  translate(iova: bigint, length: number, write: boolean): DmaWindow | number {
    if (this.pe !== null && !this.pe.dmaEnabled) return -EIO;
    for (const tbl of this.tables) {
      if (tbl === null) continue;
      const shift = BigInt(tbl.itPageShift);
      const entry = iova >> shift;
      if (entry > BigInt(Number.MAX_SAFE_INTEGER) || !tbl.contains(Number(entry))) continue;
      const tce = tbl.get(Number(entry));
      if (tce === undefined) return -EFAULT;
      if ((tce.perm & (write ? TCE_PCI_WRITE : TCE_PCI_READ)) === 0) return -EPERM;
      const inIommuPage = Number(iova & ((1n << shift) - 1n));
      const pos = tce.offset + inIommuPage;
      const pageSize = this.kernel.pageSize;
      const page = tce.pages[tce.index + Math.floor(pos / pageSize)];
      if (page === undefined) return -EFAULT;
      const offset = pos % pageSize;
      const iommuPageLeft = 2 ** tbl.itPageShift - inIommuPage;
      return { page, offset, length: Math.min(length, pageSize - offset, iommuPageLeft) };
    }
    return -EFAULT;
  }
}

const tableGroups = new WeakMap<IommuGroup, IommuTableGroup | null>();
const platformOps: Record<TableGroupParams['platform'], IommuTableGroupOps> = {
  ioda2: pnvIoda2TableGroupOps,
  pseries: spaprTceTableGroupOps,
};

/**
 * ≙ iommu_group_get_iommudata(): the group's table_group, created on first use from the profile's parameters.
 * null for groups without sPAPR platform data (the kernel's ENODEV case).
 */
export function iommuGroupGetIommudata(kernel: SimKernel, group: IommuGroup): IommuTableGroup | null {
  let tg = tableGroups.get(group);
  if (tg !== undefined) return tg;
  const params = group.platformData as TableGroupParams | null;
  const ops = params !== null && typeof params === 'object' ? platformOps[params.platform] : undefined;
  tg = params !== null && ops !== undefined ? new IommuTableGroup(kernel, group, params, ops) : null;
  tableGroups.set(group, tg);
  return tg;
}
