// SPDX-License-Identifier: MIT
/**
 * ≙ arch/powerpc/platforms/pseries/iommu.c spapr_tce_table_group_ops (≈v6.9+): an LPAR guest whose windows are
 * made by firmware through the RTAS DDW calls, with QEMU's spapr PHB (hw/ppc/spapr_rtas_ddw.c) as the firmware.
 */
import { errnoNumber } from '@vfio-ts/uapi';
import { IommuTable } from '../iommu-table.js';
import type { IommuTableGroup, IommuTableGroupOps } from '../table-group.js';
import { ilog2, isPowerOf2 } from './ioda2.js';

const EINVAL = errnoNumber('EINVAL');
const EPERM = errnoNumber('EPERM');
const ENODEV = errnoNumber('ENODEV');
const EEXIST = errnoNumber('EEXIST');

/** IOMMU_PAGE_SHIFT_4K */
const IOMMU_PAGE_SHIFT_4K = 12;
/**
 * asm/hvcall.h H_PARAMETER: the hypervisor's answer to an H_PUT_TCE outside the window. tce_exchange_pseries passes
 * this hcall status up unchanged, so user space sees it as an errno value.
 */
const H_PARAMETER = -4;

/** The PHB's firmware state: which windows exist (device-tree properties) and the sticky DDW failure. */
interface PseriesState {
  /** "ibm,dma-window" present: the default 32-bit window exists in firmware. */
  defaultWindow: boolean;
  /** "linux,dma64-ddr-window-info" present: a dynamic window exists in firmware. */
  ddw: boolean;
  /** The pdn is on failed_ddw_pdn_list: every later window creation fails with ENODEV until reboot. */
  ddwFailed: boolean;
}

function state(tg: IommuTableGroup): PseriesState {
  const s = tg.platformState as Partial<PseriesState>;
  if (s.defaultWindow === undefined) {
    s.defaultWindow = true;
    s.ddw = false;
    s.ddwFailed = false;
  }
  return s as PseriesState;
}

/** @see arch/powerpc/platforms/pseries/iommu.c spapr_tce_get_table_size */
export function spaprTceGetTableSize(pageShift: number, windowSize: bigint, levels: number): bigint {
  // ~0U: a multi-level request is charged about 4 GiB and normally fails on the rlimit first.
  if (levels > 1) return 0xffff_ffffn;
  return windowSize >> BigInt(pageShift - 3);
}

/** @see arch/powerpc/platforms/pseries/iommu.c is_default_window_request */
function isDefaultWindowRequest(tg: IommuTableGroup, pageShift: number, windowSize: bigint): boolean {
  return windowSize <= BigInt(tg.tce32Size) && pageShift === IOMMU_PAGE_SHIFT_4K;
}

function newTable(busOffset: bigint, pageShift: number, windowShift: number): IommuTable {
  // Firmware windows are flat (one level); the table lives in the hypervisor, the guest keeps it_userspace.
  const entries = windowShift >= pageShift ? 2 ** (windowShift - pageShift) : 0;
  return new IommuTable({
    itOffset: Number(busOffset >> BigInt(pageShift)),
    itSize: entries,
    itPageShift: pageShift,
    levels: 1,
    itLevelSize: Math.max(entries, 1),
    userspaceView: true,
  });
}

/** @see arch/powerpc/platforms/pseries/iommu.c spapr_tce_create_table */
function spaprTceCreateTable(
  tg: IommuTableGroup,
  num: number,
  pageShift: number,
  windowSize: bigint,
  levels: number,
): IommuTable | number {
  if (!isPowerOf2(windowSize) || levels > 1) return -EINVAL;
  const windowShift = ilog2(windowSize);
  const fw = state(tg);
  if (fw.ddwFailed) return -ENODEV;

  let tbl: IommuTable;
  if (num === 0 && isDefaultWindowRequest(tg, pageShift, windowSize) && !fw.defaultWindow) {
    // Restoring window #0 would reset the PE and destroy an existing 64-bit window.
    if (fw.ddw) return -EPERM;
    fw.defaultWindow = true;
    tbl = newTable(tg.tce32Start, IOMMU_PAGE_SHIFT_4K, windowShift);
  } else {
    if (num === 0 && !isDefaultWindowRequest(tg, pageShift, windowSize) && fw.ddw) return -EPERM;
    const ddw = tg.params.ddw;
    if (ddw === undefined) return -EINVAL;
    const active = (fw.defaultWindow ? 1 : 0) + (fw.ddw ? 1 : 0);
    // 1ULL << (len - page_shift): a negative shift count is >= 64 on ppc64's sld and yields 0, so a window smaller
    // than its page passes this check and fails in firmware below.
    if (windowShift >= pageShift && ddw.largestAvailableBlock < 1n << BigInt(windowShift - pageShift)) return -EINVAL;
    // ibm,create-pe-dma-window (QEMU): bad page size or window below one page is a parameter error, no free window
    // a hardware error. Either way the pdn joins failed_ddw_pdn_list.
    if (
      (tg.pgsizes & (1n << BigInt(pageShift))) === 0n ||
      windowShift < pageShift ||
      active >= ddw.maxWindows ||
      tg.kernel.hooks.shouldFail('rtas_create_pe_dma_window')
    ) {
      fw.ddwFailed = true;
      return -ENODEV;
    }
    // of_add_property() of a second DMA64 property fails; the new firmware window is removed again.
    if (fw.ddw) {
      fw.ddwFailed = true;
      return -EEXIST;
    }
    const winAddr = active === 0 ? tg.tce32Start : ddw.dma64WindowAddr;
    fw.ddw = true;
    tbl = newTable(winAddr, pageShift, windowShift);
  }
  tg.tables[num] = tbl;
  tbl.itAllocatedSize = spaprTceGetTableSize(pageShift, windowSize, levels);
  return tbl;
}

export const spaprTceTableGroupOps: IommuTableGroupOps = {
  name: 'spapr_tce_table_group_ops',

  getTableSize(_tg, pageShift, windowSize, levels) {
    return spaprTceGetTableSize(pageShift, windowSize, levels);
  },

  createTable: spaprTceCreateTable,

  /** @see arch/powerpc/platforms/pseries/iommu.c spapr_tce_set_window — only the PE that created the table. */
  setWindow(tg, num, tbl) {
    return tg.tables[num] === tbl ? 0 : -EPERM;
  },

  /** @see arch/powerpc/platforms/pseries/iommu.c spapr_tce_unset_window */
  unsetWindow(tg, num) {
    const tbl = tg.tables[num];
    if (!tbl) return 0;
    const fw = state(tg);
    const isDefault = tbl.windowSize <= BigInt(tg.tce32Size) && tbl.itPageShift === IOMMU_PAGE_SHIFT_4K;
    if (num === 0 && isDefault) fw.defaultWindow = false;
    else fw.ddw = false;
    tg.tables[num] = null;
    return 0;
  },

  /** @see arch/powerpc/platforms/pseries/iommu.c spapr_tce_take_ownership — firmware windows are removed. */
  takeOwnership(tg) {
    const fw = state(tg);
    fw.ddw = false;
    fw.defaultWindow = false;
    tg.tables[0] = null;
    tg.tables[1] = null;
    tg.owned = true;
    return 0;
  },

  /** @see arch/powerpc/platforms/pseries/iommu.c spapr_tce_release_ownership — the kernel's default window returns. */
  releaseOwnership(tg) {
    const fw = state(tg);
    if (tg.tables[0] === null) fw.defaultWindow = true;
    tg.owned = false;
  },

  xchgOutOfWindow() {
    return H_PARAMETER;
  },
};
