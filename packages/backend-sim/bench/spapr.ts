// SPDX-License-Identifier: MIT
/**
 * sPAPR TCE benchmarks: bulk MAP_DMA throughput (TCE entries per second) through the process backend, and the heap
 * a 1 TiB dynamic window costs empty and with 1 GiB mapped (it must follow what is mapped, not the window size).
 * Run: node --expose-gc --import tsx --conditions=@vfio-ts/source packages/backend-sim/bench/spapr.ts
 */
import { codec, ioctlNumber, systemConstants } from '@vfio-ts/uapi';
import { SimKernel } from '../src/kernel.js';
import { powernv9Profile } from '../src/platforms/powernv.js';
import type { SimProcessBackend } from '../src/process-backend.js';
import { tceWindows } from '../src/testing/spapr.js';

export interface SpaprBenchResult {
  /** TCEs written per second by MAP_DMA of 64 MiB (1024 × 64K entries) at a time. */
  readonly mapEntriesPerSecond: number;
  readonly mapEntries: number;
  /** Heap growth from creating the empty 1 TiB window (64K pages, 2 levels). */
  readonly emptyWindowHeapBytes: number;
  /** Heap growth from mapping 1 GiB (16384 TCEs) into it. */
  readonly mapped1GiBHeapBytes: number;
  /** Indirect TCE levels allocated for that 1 GiB (a 1 TiB window has 2048 possible). */
  readonly allocatedLevels: number;
  /** Whether global.gc was available, making the heap numbers exact rather than approximate. */
  readonly gcExposed: boolean;
}

const MiB = 1n << 20n;
const GiB = 1n << 30n;

function heap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

function setIommu(be: SimProcessBackend): number {
  const container = be.open('/dev/vfio/vfio');
  const group = be.open('/dev/vfio/0');
  const fd = new Uint8Array(4);
  new DataView(fd.buffer).setInt32(0, container, be.littleEndian);
  be.ioctl(group, ioctlNumber('VFIO_GROUP_SET_CONTAINER', be.arch), fd);
  be.ioctl(container, ioctlNumber('VFIO_SET_IOMMU', be.arch), 7);
  return container;
}

export async function benchSpapr(): Promise<SpaprBenchResult> {
  const kernel = SimKernel.create(powernv9Profile);
  const be = kernel.createProcess({ capIpcLock: true });
  const arch = be.arch;
  const container = setIommu(be);
  const sys = systemConstants(arch);
  const chunk = 64n * MiB;
  const mem = be.mmap({ length: Number(chunk), prot: sys.PROT_READ | sys.PROT_WRITE });
  const reg = codec('vfio_iommu_spapr_register_memory', arch);
  be.ioctl(
    container,
    ioctlNumber('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', arch),
    reg.encode({ argsz: reg.size, vaddr: mem.address, size: chunk }),
  );
  // The default window is not wanted: the whole budget goes to the big one.
  const rm = codec('vfio_iommu_spapr_tce_remove', arch);
  be.ioctl(container, ioctlNumber('VFIO_IOMMU_SPAPR_TCE_REMOVE', arch), rm.encode({ argsz: rm.size, startAddr: 0n }));

  const before = heap();
  const cr = codec('vfio_iommu_spapr_tce_create', arch);
  const create = cr.encode({ argsz: cr.size, pageShift: 16, windowSize: 1n << 40n, levels: 2 });
  be.ioctl(container, ioctlNumber('VFIO_IOMMU_SPAPR_TCE_CREATE', arch), create);
  const start = cr.decode(create).startAddr;
  const afterCreate = heap();

  const mapNr = ioctlNumber('VFIO_IOMMU_MAP_DMA', arch);
  const mc = codec('vfio_iommu_type1_dma_map', arch);
  const maps: Uint8Array[] = [];
  for (let iova = 0n; iova < GiB; iova += chunk) {
    maps.push(mc.encode({ argsz: mc.size, flags: 3, vaddr: mem.address, iova: start + iova, size: chunk }));
  }
  for (const m of maps) be.ioctl(container, mapNr, m);
  const afterMap = heap();
  const allocatedLevels = tceWindows(be, container)[0]?.allocatedLevels ?? -1;

  // Throughput: remapping replaces entries (the kernel's xchg path), so the same 1 GiB can be mapped repeatedly.
  const entriesPerMap = Number(chunk >> 16n);
  let entries = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < 1_000_000_000n) {
    for (const m of maps) be.ioctl(container, mapNr, m);
    entries += entriesPerMap * maps.length;
    elapsed = process.hrtime.bigint() - t0;
  }
  be.exit();
  return {
    mapEntriesPerSecond: Math.round(entries / (Number(elapsed) / 1e9)),
    mapEntries: entries,
    emptyWindowHeapBytes: afterCreate - before,
    mapped1GiBHeapBytes: afterMap - afterCreate,
    allocatedLevels,
    gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchSpapr().then((r) => console.log(r));
}
