// SPDX-License-Identifier: MIT
/**
 * The sPAPR locked_vm rules (docs/spapr-semantics.md §9) as a model computed from the simulator's visible state,
 * and the sPAPR memory-safety invariants: no TCE and no pre-registered region points at a freed page. Used by the
 * fuzzers (test/fuzz) and the fail-nth sweeps (test/fault).
 *
 * Model: a process is charged, in PAGE_SIZE pages,
 *   + tce32_size >> PAGE_SHIFT for every enabled v1 container whose container->mm is the process,
 *   + it_allocated_size >> PAGE_SHIFT for every table (window) of a container whose mm is the process,
 *   + entries of every pre-registered region on its mm list (orphans included),
 *   + whatever failed window creations leaked (Q4) — the caller tracks that, the model cannot see it.
 */
import type { SimKernel } from '../../src/index.js';
import type { PhysPage } from '../../src/mm/memory.js';
import { mmIommuList } from '../../src/powerpc/mm-iommu.js';
import { TceContainer } from '../../src/spapr/tce-container.js';
import type { VfioContainer } from '../../src/vfio/container.js';

/** Every sPAPR container alive: held by a group or by an fd of some process. */
export function spaprContainers(kernel: SimKernel): Set<TceContainer> {
  const out = new Set<TceContainer>();
  for (const vg of kernel.vfioGroups.values()) {
    const data = vg.container?.iommuData;
    if (data instanceof TceContainer) out.add(data);
  }
  for (const proc of kernel.processes.values())
    for (const [, file] of proc.fds.entries()) {
      if (file.kind !== 'container') continue;
      const data = (file.privateData as VfioContainer).iommuData;
      if (data instanceof TceContainer) out.add(data);
    }
  return out;
}

/** pid → pages the sPAPR rules charge it (without Q4 leaks). */
export function spaprCharges(kernel: SimKernel): Map<number, number> {
  const shift = BigInt(Math.log2(kernel.pageSize));
  const charged = new Map<number, number>();
  const add = (pid: number, n: number) => charged.set(pid, (charged.get(pid) ?? 0) + n);
  for (const c of spaprContainers(kernel)) {
    if (c.mm === null) continue;
    if (!c.v2 && c.enabled) add(c.mm.pid, c.lockedPages);
    for (const tbl of c.tables) if (tbl) add(c.mm.pid, Number(tbl.itAllocatedSize >> shift));
  }
  for (const proc of kernel.processes.values()) for (const m of mmIommuList(proc)) add(proc.pid, m.entries);
  return charged;
}

/** TCEs and pre-registered regions that point at freed pages, and counts for the caller's statistics. */
export function spaprMemoryProblems(kernel: SimKernel): { problems: string[]; tces: number; regions: number } {
  const problems: string[] = [];
  let tces = 0;
  let regions = 0;
  for (const c of spaprContainers(kernel))
    c.tables.forEach((tbl, num) => {
      if (!tbl) return;
      const span = Math.max(1, 2 ** tbl.itPageShift / kernel.pageSize);
      for (const [entry, tce] of tbl.entries()) {
        tces++;
        for (let i = tce.index; i < Math.min(tce.pages.length, tce.index + span); i++)
          if ((tce.pages[i] as PhysPage).freed) {
            problems.push(`window ${num} entry ${entry}: TCE 0x${tce.hpa.toString(16)} points at a freed page`);
            break;
          }
      }
    });
  for (const proc of kernel.processes.values())
    for (const m of mmIommuList(proc)) {
      regions++;
      if (m.pages.some((p) => (p as PhysPage).freed))
        problems.push(`pid ${proc.pid}: registered region 0x${m.ua.toString(16)} holds a freed page`);
    }
  return { problems, tces, regions };
}

/** TCE entries alive in all containers (a baseline is 0). */
export function liveTces(kernel: SimKernel): number {
  return spaprMemoryProblems(kernel).tces;
}
