// SPDX-License-Identifier: MIT
/** Test-only observation: locked memory, IOMMU mappings, device DMA and faults, and the kernel's invariants. */
import type { PciDevice } from '../devices/pci-device.js';
import type { IommuFault } from '../iommu/iommu-group.js';
import type { SimKernel } from '../kernel.js';
import type { PhysPage } from '../mm/memory.js';
import type { SimProcessBackend } from '../process-backend.js';
import { VfioIommu } from '../type1/vfio-iommu.js';
import type { VfioContainer } from '../vfio/container.js';

/** VmLck of the process, in pages. */
export function lockedVm(backend: SimProcessBackend): number {
  return backend.process.lockedVm;
}

export interface Type1Mapping {
  readonly iova: bigint;
  readonly size: bigint;
  readonly vaddr: bigint;
  readonly prot: number;
  readonly vaddrInvalid: boolean;
  readonly lockedPages: number;
  readonly ownerPid: number;
}

function containerOf(backend: SimProcessBackend, fd: number): VfioContainer {
  const file = backend.process.fds.get(fd);
  if (typeof file === 'number' || file.kind !== 'container') throw new TypeError(`fd ${fd} is not a container`);
  return file.privateData as VfioContainer;
}

/** The type1 mappings of the container open at `fd`, in IOVA order ([] without a type1 IOMMU). */
export function type1Mappings(backend: SimProcessBackend, containerFd: number): Type1Mapping[] {
  const data = containerOf(backend, containerFd).iommuData;
  if (!(data instanceof VfioIommu)) return [];
  return data.dmaList.map((d) => ({
    iova: d.iova,
    size: d.size,
    vaddr: d.vaddr,
    prot: d.prot,
    vaddrInvalid: d.vaddrInvalid,
    lockedPages: d.locked,
    ownerPid: d.task.pid,
  }));
}

/** The IOMMU driver name set on the container at `fd`, or null. */
export function containerIommu(backend: SimProcessBackend, containerFd: number): string | null {
  return containerOf(backend, containerFd).iommuDriver?.name ?? null;
}

export function device(kernel: SimKernel, name: string): PciDevice {
  for (const g of kernel.iommuGroups.values()) {
    const d = g.devices.find((x) => x.name === name);
    if (d !== undefined) return d as PciDevice;
  }
  throw new TypeError(`no device ${name}`);
}

/** Records IOMMU faults (DMA blocked by translation) until stopped. */
export function recordIommuFaults(kernel: SimKernel): { faults: IommuFault[]; stop(): void } {
  const faults: IommuFault[] = [];
  const stop = kernel.hooks.attach({ onIommuFault: (f) => faults.push(f) });
  return { faults, stop };
}

/** Pages of simulated RAM alive (mapped by a process or pinned). */
export function livePages(kernel: SimKernel): number {
  return kernel.memory.livePages;
}

/**
 * Every invariant the simulator promises, as a list of violations (empty when all hold):
 * each process's locked_vm equals what its type1 mappings charge it (plus what other drivers report through
 * `extraLocked`), no IOMMU mapping points at a freed page, dma_avail + mappings = dma_entry_limit, mappings sorted
 * and disjoint, and no group's DMA translator outlives its container.
 */
export function checkInvariants(kernel: SimKernel, extraLocked?: (pid: number) => number): string[] {
  const problems: string[] = [];
  const charged = new Map<number, number>();
  const iommus = new Set<VfioIommu>();
  for (const g of kernel.iommuGroups.values()) if (g.dma instanceof VfioIommu) iommus.add(g.dma);
  for (const vg of kernel.vfioGroups.values()) {
    const data = vg.container?.iommuData;
    if (data instanceof VfioIommu) iommus.add(data);
    if (vg.container === null && vg.iommuGroup.dma !== null)
      problems.push(`group ${vg.id}: DMA translation without a container`);
    // The group ↔ cdev exclusion: a group fd and cdev-bound devices never coexist; each bound device is open once.
    const cdevBound = vg.devices.filter((d) => d.pci.cdevOpened);
    if (vg.cdevDeviceOpenCnt !== cdevBound.length)
      problems.push(
        `group ${vg.id}: cdev_device_open_cnt ${vg.cdevDeviceOpenCnt} != ${cdevBound.length} bound devices`,
      );
    if (vg.cdevDeviceOpenCnt > 0 && vg.openedFile !== null) problems.push(`group ${vg.id}: open while a cdev is bound`);
    for (const d of cdevBound)
      if (d.openCount !== 1) problems.push(`${d.name}: cdev-bound with open_count ${d.openCount}`);
    if (cdevBound.length > 0 && vg.iommuGroup.ownerCnt !== cdevBound.length)
      problems.push(`group ${vg.id}: owner_cnt ${vg.iommuGroup.ownerCnt} != ${cdevBound.length} cdev-bound devices`);
  }
  for (const iommu of iommus) {
    let prevEnd = -1n;
    if (iommu.dmaAvail + iommu.dmaList.length !== iommu.params.dmaEntryLimit)
      problems.push(`dma_avail ${iommu.dmaAvail} + ${iommu.dmaList.length} mappings != ${iommu.params.dmaEntryLimit}`);
    for (const d of iommu.dmaList) {
      if (d.iova < prevEnd) problems.push(`mapping 0x${d.iova.toString(16)} overlaps its predecessor`);
      prevEnd = d.end;
      if (BigInt(d.pages.length) * BigInt(kernel.pageSize) !== d.size)
        problems.push(`mapping 0x${d.iova.toString(16)}: ${d.pages.length} pages for size 0x${d.size.toString(16)}`);
      for (const page of d.pages) {
        if ((page as PhysPage).freed) problems.push(`mapping 0x${d.iova.toString(16)} points at freed hpa`);
        if (page.pinCount <= 0) problems.push(`mapping 0x${d.iova.toString(16)} holds an unpinned page`);
      }
      charged.set(d.task.pid, (charged.get(d.task.pid) ?? 0) + d.locked);
    }
  }
  for (const proc of kernel.processes.values()) {
    if (proc.lockedVm < 0) problems.push(`pid ${proc.pid}: locked_vm ${proc.lockedVm} < 0`);
    const expected = (charged.get(proc.pid) ?? 0) + (extraLocked?.(proc.pid) ?? 0);
    if (proc.lockedVm !== expected) problems.push(`pid ${proc.pid}: locked_vm ${proc.lockedVm} != ${expected}`);
  }
  return problems;
}

/**
 * A digest of everything a failed call must leave unchanged: per process locked_vm, fds and VMAs; per group its
 * opener, container and users; per device its open count and IRQ setup; per type1 IOMMU its mappings, dma_avail and
 * tracking; the live and pinned page counts. Equal digests before and after a failed call = "changes nothing".
 */
export function stateDigest(kernel: SimKernel): string {
  const out: unknown[] = [kernel.memory.livePages];
  for (const p of kernel.processes.values()) {
    out.push([
      'p',
      p.pid,
      p.lockedVm,
      p.pinnedVm,
      [...p.fds.entries()].map(([fd, f]) => `${fd}:${f.kind}`),
      p.vmas.length,
    ]);
  }
  const iommus = new Set<VfioIommu>();
  for (const g of kernel.vfioGroups.values()) {
    out.push([
      'g',
      g.id,
      g.openedFile !== null,
      g.container !== null,
      g.containerUsers,
      g.iommuGroup.dma !== null,
      g.cdevDeviceOpenCnt,
      g.iommuGroup.ownerCnt,
    ]);
    for (const d of g.devices) {
      const v = d.pci;
      out.push([
        'd',
        d.name,
        d.openCount,
        v.cdevOpened,
        v.irqType,
        v.msiTriggers.length,
        v.intxTrigger !== null,
        v.reqTrigger !== null,
      ]);
    }
    if (g.container?.iommuData instanceof VfioIommu) iommus.add(g.container.iommuData);
  }
  for (const i of iommus) {
    out.push(['i', i.v2, i.dmaAvail, i.vaddrInvalidCount, i.dirtyPageTracking, i.groups.length]);
    for (const d of i.dmaList) out.push([d.iova, d.size, d.vaddr, d.prot, d.vaddrInvalid, d.locked, d.task.pid]);
  }
  return JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));
}
