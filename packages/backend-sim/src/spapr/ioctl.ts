// SPDX-License-Identifier: MIT
/**
 * ≙ tce_iommu_ioctl (drivers/vfio/vfio_iommu_spapr_tce.c). The container passes every ioctl it does not handle
 * itself; request numbers alias with type1's, so this switch only ever gives them their sPAPR meaning.
 */
import {
  type Arch,
  codec,
  errnoNumber,
  type IoctlName,
  ioctlNumber,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_EEH,
  VFIO_IOMMU_SPAPR_INFO_DDW,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
} from '@vfio-ts/uapi';
import type { Process } from '../mm/process.js';
import { accountLockedVm } from '../mm/process.js';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type DmaDirection,
  type IommuTable,
} from '../powerpc/iommu-table.js';
import type { SpaprPlatformParams } from '../powerpc/table-group.js';
import type { UserArg } from '../vfio/user-arg.js';
import { tceIommuBuild, tceIommuBuildV2, tceIommuClear } from './build.js';
import { vfioSpaprIoctlEehPeOp } from './eeh.js';
import { tceIommuRegisterPages, tceIommuUnregisterPages } from './prereg.js';
import { type TceContainer, tceIommuMmSet } from './tce-container.js';
import {
  tceIommuCreateDefaultWindow,
  tceIommuCreateWindow,
  tceIommuFindTable,
  tceIommuRemoveWindow,
} from './windows.js';

const EBUSY = errnoNumber('EBUSY');
const ENODEV = errnoNumber('ENODEV');
const EINVAL = errnoNumber('EINVAL');
const ENOTTY = errnoNumber('ENOTTY');
const ENXIO = errnoNumber('ENXIO');
const EPERM = errnoNumber('EPERM');

const HANDLED = [
  'VFIO_CHECK_EXTENSION',
  'VFIO_IOMMU_SPAPR_TCE_GET_INFO',
  'VFIO_IOMMU_MAP_DMA',
  'VFIO_IOMMU_UNMAP_DMA',
  'VFIO_IOMMU_SPAPR_REGISTER_MEMORY',
  'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY',
  'VFIO_IOMMU_ENABLE',
  'VFIO_IOMMU_DISABLE',
  'VFIO_EEH_PE_OP',
  'VFIO_IOMMU_SPAPR_TCE_CREATE',
  'VFIO_IOMMU_SPAPR_TCE_REMOVE',
] as const satisfies readonly IoctlName[];
type Handled = (typeof HANDLED)[number];

const byArch = new Map<Arch, Map<number, Handled>>();

/** The sPAPR meaning of a container request number on an architecture. */
function requestName(request: number, arch: Arch): Handled | undefined {
  let map = byArch.get(arch);
  if (map === undefined) {
    map = new Map(HANDLED.map((name) => [ioctlNumber(name, arch), name]));
    byArch.set(arch, map);
  }
  return map.get(request);
}

/** eeh_enabled() of the platform. */
export function eehEnabled(container: { kernel: { profile: { spapr?: unknown } } }): boolean {
  return (container.kernel.profile.spapr as SpaprPlatformParams | undefined)?.eehEnabled ?? false;
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_ioctl, case VFIO_CHECK_EXTENSION — answered with or without a container. */
export function tceIommuCheckExtension(extension: bigint, eeh: boolean): number {
  switch (extension) {
    case BigInt(VFIO_SPAPR_TCE_IOMMU):
    case BigInt(VFIO_SPAPR_TCE_v2_IOMMU):
      return 1;
    case BigInt(VFIO_EEH):
      return eeh ? 1 : 0;
    default:
      return 0;
  }
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_enable */
export function tceIommuEnable(container: TceContainer, current: Process): number {
  if (container.enabled) return -EBUSY;
  // The worst case of locked memory is charged up front: the whole 32-bit window, whatever gets mapped.
  if (!container.groupsAttached) return -ENODEV;
  const tableGroup = container.firstTableGroup();
  if (tableGroup === null) return -ENODEV;
  if (!tableGroup.tce32Size) return -EPERM;
  let ret = tceIommuMmSet(container, current);
  if (ret) return ret;
  const locked = Math.floor(tableGroup.tce32Size / container.kernel.pageSize);
  ret = accountLockedVm(current, locked, true);
  if (ret) return ret;
  container.lockedPages = locked;
  container.enabled = true;
  return 0;
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_disable */
export function tceIommuDisable(container: TceContainer): void {
  if (!container.enabled) return;
  container.enabled = false;
  if (container.mm !== null) accountLockedVm(container.mm, container.lockedPages, false);
}

/** The IOMMU page offset bits of a table (~IOMMU_PAGE_MASK(tbl)). */
function pageOffset(tbl: IommuTable, value: bigint): bigint {
  return value & ((1n << BigInt(tbl.itPageShift)) - 1n);
}

/**
 * ≙ iommu_tce_put_param_check / iommu_tce_clear_param_check: macros that yield the boolean 1, not an errno, for a
 * misaligned or out-of-window iova. Only the first page is checked against the window (iommu_tce_check_ioba).
 */
function iommuTceCheckIoba(tbl: IommuTable, ioba: bigint): number {
  if (pageOffset(tbl, ioba) !== 0n) return 1;
  const entry = Number(ioba >> BigInt(tbl.itPageShift));
  if (entry < tbl.itOffset) return 1;
  if (entry + 1 > tbl.itOffset + tbl.itSize) return 1;
  return 0;
}

/** Records a request that overruns its window: kernel UB (pseries oopses in tce_iommu_unuse_page_v2). */
function noteWindowOverrun(container: TceContainer, tbl: IommuTable, iova: bigint, size: bigint, map: boolean): void {
  const end = tbl.startAddr + tbl.windowSize;
  if (iova + size <= end) return;
  const pseries = container.firstTableGroup()?.params.platform === 'pseries';
  container.ubEvents.push({
    kind: map ? 'map-past-window' : 'unmap-past-window',
    iova,
    size,
    realKernel: map && pseries && container.v2 ? 'oops' : 'ub',
  });
}

function mapDma(container: TceContainer, arg: UserArg, arch: Arch): number {
  if (!container.enabled) return -EPERM;
  const minsz = codec('vfio_iommu_type1_dma_map', arch).offsetEnd('size');
  const param = arg.copyStructFromUser<{ argsz: number; flags: number; vaddr: bigint; iova: bigint; size: bigint }>(
    'vfio_iommu_type1_dma_map',
    minsz,
    arch,
  );
  if (typeof param === 'number') return param;
  if (param.argsz < minsz) return -EINVAL;
  if (param.flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) return -EINVAL;
  // The pending default window is created before anything else is validated (Q5).
  let ret = tceIommuCreateDefaultWindow(container);
  if (ret) return ret;
  const found = tceIommuFindTable(container, param.iova);
  if (found === null) return -ENXIO;
  const { tbl } = found;
  if (pageOffset(tbl, param.size) !== 0n || pageOffset(tbl, param.vaddr) !== 0n) return -EINVAL;
  let direction: DmaDirection;
  if (param.flags & VFIO_DMA_MAP_FLAG_READ) {
    direction = param.flags & VFIO_DMA_MAP_FLAG_WRITE ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
  } else if (param.flags & VFIO_DMA_MAP_FLAG_WRITE) {
    direction = DMA_FROM_DEVICE;
  } else {
    return -EINVAL;
  }
  ret = iommuTceCheckIoba(tbl, param.iova);
  if (ret) return ret;
  noteWindowOverrun(container, tbl, param.iova, param.size, true);
  const entry = Number(param.iova >> BigInt(tbl.itPageShift));
  const pages = Number(param.size >> BigInt(tbl.itPageShift));
  return container.v2
    ? tceIommuBuildV2(container, tbl, entry, param.vaddr, pages, direction)
    : tceIommuBuild(container, tbl, entry, param.vaddr, pages, direction);
}

function unmapDma(container: TceContainer, arg: UserArg, arch: Arch): number {
  if (!container.enabled) return -EPERM;
  const minsz = codec('vfio_iommu_type1_dma_unmap', arch).offsetEnd('size');
  const param = arg.copyStructFromUser<{ argsz: number; flags: number; iova: bigint; size: bigint }>(
    'vfio_iommu_type1_dma_unmap',
    minsz,
    arch,
  );
  if (typeof param === 'number') return param;
  if (param.argsz < minsz) return -EINVAL;
  if (param.flags) return -EINVAL;
  let ret = tceIommuCreateDefaultWindow(container);
  if (ret) return ret;
  const found = tceIommuFindTable(container, param.iova);
  if (found === null) return -ENXIO;
  const { tbl } = found;
  if (pageOffset(tbl, param.size) !== 0n) return -EINVAL;
  ret = iommuTceCheckIoba(tbl, param.iova);
  if (ret) return ret;
  noteWindowOverrun(container, tbl, param.iova, param.size, false);
  return tceIommuClear(
    container,
    tbl,
    Number(param.iova >> BigInt(tbl.itPageShift)),
    Number(param.size >> BigInt(tbl.itPageShift)),
  );
}

function getInfo(container: TceContainer, arg: UserArg, arch: Arch): number {
  if (!container.groupsAttached) return -ENXIO;
  const tableGroup = container.firstTableGroup();
  if (tableGroup === null) return -ENXIO;
  const c = codec('vfio_iommu_spapr_tce_info', arch);
  let minsz = c.offsetEnd('dma32WindowSize');
  const info = arg.copyStructFromUser<{ argsz: number }>('vfio_iommu_spapr_tce_info', minsz, arch);
  if (typeof info === 'number') return info;
  if (info.argsz < minsz) return -EINVAL;
  const ddw = tableGroup.maxDynamicWindowsSupported !== 0 && container.v2;
  const out = c.encode({
    argsz: info.argsz,
    flags: ddw ? VFIO_IOMMU_SPAPR_INFO_DDW : 0,
    dma32WindowStart: Number(tableGroup.tce32Start),
    dma32WindowSize: tableGroup.tce32Size,
    ddw: ddw
      ? {
          pgsizes: tableGroup.pgsizes,
          maxDynamicWindowsSupported: tableGroup.maxDynamicWindowsSupported,
          levels: tableGroup.maxLevels,
        }
      : {},
  } as never);
  const ddwsz = c.offsetEnd('ddw');
  if (info.argsz >= ddwsz) minsz = ddwsz;
  return arg.copyToUser(out.subarray(0, minsz));
}

function registerMemory(
  container: TceContainer,
  arg: UserArg,
  arch: Arch,
  current: Process,
  register: boolean,
): number {
  const minsz = codec('vfio_iommu_spapr_register_memory', arch).offsetEnd('size');
  if (register) {
    // REGISTER binds the process before looking at its argument (Q5).
    const ret = tceIommuMmSet(container, current);
    if (ret) return ret;
  } else if (container.mm === null) {
    return -EPERM;
  }
  const param = arg.copyStructFromUser<{ argsz: number; flags: number; vaddr: bigint; size: bigint }>(
    'vfio_iommu_spapr_register_memory',
    minsz,
    arch,
  );
  if (typeof param === 'number') return param;
  if (param.argsz < minsz) return -EINVAL;
  if (param.flags) return -EINVAL;
  return register
    ? tceIommuRegisterPages(container, param.vaddr, param.size)
    : tceIommuUnregisterPages(container, param.vaddr, param.size);
}

function createWindowIoctl(container: TceContainer, arg: UserArg, arch: Arch, current: Process): number {
  let ret = tceIommuMmSet(container, current);
  if (ret) return ret;
  if (!container.groupsAttached) return -ENXIO;
  const c = codec('vfio_iommu_spapr_tce_create', arch);
  const minsz = c.offsetEnd('startAddr');
  const create = arg.copyStructFromUser<{
    argsz: number;
    flags: number;
    pageShift: number;
    windowSize: bigint;
    levels: number;
    startAddr: bigint;
  }>('vfio_iommu_spapr_tce_create', minsz, arch);
  if (typeof create === 'number') return create;
  if (create.argsz < minsz) return -EINVAL;
  if (create.flags) return -EINVAL;
  // A pending default window is created first and kept even if the requested window then fails.
  ret = tceIommuCreateDefaultWindow(container);
  if (ret) return ret;
  const made = tceIommuCreateWindow(container, create.pageShift, create.windowSize, create.levels);
  if (typeof made === 'number') return made;
  const out = c.encode({ ...create, startAddr: made.startAddr } as never);
  // A fault on the copy back is reported, but the window stays (Q9).
  return arg.copyToUser(out.subarray(0, minsz));
}

function removeWindowIoctl(container: TceContainer, arg: UserArg, arch: Arch, current: Process): number {
  const ret = tceIommuMmSet(container, current);
  if (ret) return ret;
  if (!container.groupsAttached) return -ENXIO;
  const minsz = codec('vfio_iommu_spapr_tce_remove', arch).offsetEnd('startAddr');
  const remove = arg.copyStructFromUser<{ argsz: number; flags: number; startAddr: bigint }>(
    'vfio_iommu_spapr_tce_remove',
    minsz,
    arch,
  );
  if (typeof remove === 'number') return remove;
  if (remove.argsz < minsz) return -EINVAL;
  if (remove.flags) return -EINVAL;
  // Removing the default window before it exists only cancels it (Q7).
  if (container.defWindowPending && remove.startAddr === 0n) {
    container.defWindowPending = false;
    return 0;
  }
  return tceIommuRemoveWindow(container, remove.startAddr);
}

/** @see vfio_iommu_spapr_tce.c tce_iommu_ioctl */
export function tceIommuIoctl(
  container: TceContainer | null,
  request: number,
  arg: UserArg,
  current: Process,
  arch: Arch,
  eeh: boolean,
): number {
  const name = requestName(request, arch);
  if (name === 'VFIO_CHECK_EXTENSION') return tceIommuCheckExtension(arg.value, eeh);
  // Without a container only CHECK_EXTENSION reaches a driver (the core answers the rest with EINVAL).
  if (container === null) return -EINVAL;
  // One process must not manipulate another's mm, whatever the request.
  if (container.mm !== null && container.mm !== current) return -EPERM;

  switch (name) {
    case 'VFIO_IOMMU_SPAPR_TCE_GET_INFO':
      return getInfo(container, arg, arch);
    case 'VFIO_IOMMU_MAP_DMA':
      return mapDma(container, arg, arch);
    case 'VFIO_IOMMU_UNMAP_DMA':
      return unmapDma(container, arg, arch);
    case 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY':
      if (!container.v2) break;
      return registerMemory(container, arg, arch, current, true);
    case 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY':
      if (!container.v2) break;
      return registerMemory(container, arg, arch, current, false);
    case 'VFIO_IOMMU_ENABLE':
      if (container.v2) break;
      return tceIommuEnable(container, current);
    case 'VFIO_IOMMU_DISABLE':
      if (container.v2) break;
      tceIommuDisable(container);
      return 0;
    case 'VFIO_EEH_PE_OP':
      for (const group of container.groupList) {
        const ret = vfioSpaprIoctlEehPeOp(container.tableGroupOf(group), arg, arch);
        if (ret) return ret;
      }
      return 0;
    case 'VFIO_IOMMU_SPAPR_TCE_CREATE':
      if (!container.v2) break;
      return createWindowIoctl(container, arg, arch, current);
    case 'VFIO_IOMMU_SPAPR_TCE_REMOVE':
      if (!container.v2) break;
      return removeWindowIoctl(container, arg, arch, current);
    default:
      break;
  }
  return -ENOTTY;
}
