// SPDX-License-Identifier: MIT
/**
 * Test-only views into the sPAPR TCE IOMMU: the TCEs of each window, the process's pre-registered regions, EEH
 * freezes, and the kernel-UB paths a container took. Re-exported by @vfio-ts/backend-sim/testing.
 */
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import { eehPeGetState } from '../powerpc/eeh.js';
import { TCE_PCI_READ, TCE_PCI_WRITE } from '../powerpc/iommu-table.js';
import { mmIommuList } from '../powerpc/mm-iommu.js';
import { iommuGroupGetIommudata } from '../powerpc/table-group.js';
import { type KernelUbEvent, TceContainer } from '../spapr/tce-container.js';
import type { VfioContainer } from '../vfio/container.js';

/** Anything that carries a simulated process (the process backend does). */
export interface HasProcess {
  readonly process: Process;
}

/** The sPAPR state of the container open at `containerFd`, or null when it has no sPAPR IOMMU set. */
export function spaprContainer(backend: HasProcess, containerFd: number): TceContainer | null {
  const file = backend.process.fds.get(containerFd);
  if (typeof file === 'number' || file.kind !== 'container') throw new TypeError(`fd ${containerFd} is no container`);
  const data = (file.privateData as VfioContainer).iommuData;
  return data instanceof TceContainer ? data : null;
}

export interface TceWindow {
  readonly num: number;
  readonly startAddr: bigint;
  readonly size: bigint;
  readonly pageShift: number;
  readonly levels: number;
  /** Bytes charged to locked_vm for the table. */
  readonly allocatedSize: bigint;
  /** Indirect levels allocated so far (memory grows with what is mapped). */
  readonly allocatedLevels: number;
}

export interface TceEntryView {
  readonly iova: bigint;
  readonly hpa: bigint;
  readonly read: boolean;
  readonly write: boolean;
  /** The user address the userspace view holds for the entry (v2), else 0n. */
  readonly ua: bigint;
}

/** The container's windows (the DMA windows user space created or the default one), lowest slot first. */
export function tceWindows(backend: HasProcess, containerFd: number): TceWindow[] {
  const c = spaprContainer(backend, containerFd);
  if (c === null) return [];
  const out: TceWindow[] = [];
  c.tables.forEach((tbl, num) => {
    if (!tbl) return;
    out.push({
      num,
      startAddr: tbl.startAddr,
      size: tbl.windowSize,
      pageShift: tbl.itPageShift,
      levels: tbl.itIndirectLevels + 1,
      allocatedSize: tbl.itAllocatedSize,
      allocatedLevels: tbl.allocatedLevels,
    });
  });
  return out;
}

/** The valid TCEs of one window (by slot), in IOVA order. */
export function readTces(backend: HasProcess, containerFd: number, num: number): TceEntryView[] {
  const tbl = spaprContainer(backend, containerFd)?.tables[num];
  if (!tbl) return [];
  const out: TceEntryView[] = [];
  for (const [entry, tce] of tbl.entries()) {
    out.push({
      iova: BigInt(entry) << BigInt(tbl.itPageShift),
      hpa: tce.hpa,
      read: (tce.perm & TCE_PCI_READ) !== 0,
      write: (tce.perm & TCE_PCI_WRITE) !== 0,
      ua: tbl.userspaceGet(entry) ?? 0n,
    });
  }
  return out;
}

export interface PreregRegion {
  readonly ua: bigint;
  readonly size: bigint;
  /** Containers (and transient users) holding the region. */
  readonly used: number;
  /** TCEs pointing into it (the kernel's `mapped` minus its bias of 1). */
  readonly mappings: number;
  readonly pageshift: number;
}

/** The process's pre-registered regions (mm->context.iommu_group_mem_list), newest first; orphans included. */
export function preregRegions(backend: HasProcess): PreregRegion[] {
  return mmIommuList(backend.process).map((m) => ({
    ua: m.ua,
    size: m.size,
    used: m.used,
    mappings: Math.max(0, m.mapped - 1),
    pageshift: m.pageshift,
  }));
}

/** locked_vm (VmLck) in pages. */
export function spaprLockedVm(backend: HasProcess): number {
  return backend.process.lockedVm;
}

function peOf(kernel: SimKernel, groupId: number) {
  const group = kernel.iommuGroups.get(groupId);
  if (group === undefined) throw new TypeError(`no IOMMU group ${groupId}`);
  const pe = iommuGroupGetIommudata(kernel, group)?.pe ?? null;
  if (pe === null) throw new TypeError(`IOMMU group ${groupId} has no EEH PE`);
  return pe;
}

/** Freezes the group's PE as a hardware error would: MMIO and DMA stop until EEH recovery. */
export function injectEehFreeze(kernel: SimKernel, groupId: number): void {
  peOf(kernel, groupId).freeze();
}

/** VFIO_EEH_PE_GET_STATE's answer for the group's PE. */
export function eehState(kernel: SimKernel, groupId: number): number {
  return eehPeGetState(peOf(kernel, groupId));
}

/** Requests the real kernel crashes on or leaves undefined, as the simulator answered them. */
export function kernelUbEvents(backend: HasProcess, containerFd: number): readonly KernelUbEvent[] {
  return spaprContainer(backend, containerFd)?.ubEvents ?? [];
}
