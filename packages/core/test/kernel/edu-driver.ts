// SPDX-License-Identifier: MIT
/**
 * The edu driver on the typed API, written once: `npm test` runs it on the simulator's models of the testbed guests
 * (test/edu-driver.test.ts) and `npm run test:kernel` runs it on the real kernels (x86_64 type1, ppc64le sPAPR v2).
 */
import { readFileSync } from 'node:fs';
import { lockedVm } from '@vfio-ts/backend-sim/testing';
import { defineKernelTests, type KernelTestContext } from '@vfio-ts/testbed';
import { type Backend, Container, Edu, Group, type Spapr } from '../../src/index.js';

/** Locked memory in bytes: VmLck on a real kernel, the simulated process's locked_vm on the simulator. */
function lockedBytes(backend: Backend, ctx: KernelTestContext): number {
  if (ctx.target === 'sim') return lockedVm(backend as Parameters<typeof lockedVm>[0]) * backend.pageSize;
  const match = /^VmLck:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (match === null) throw new Error('no VmLck in /proc/self/status');
  return Number(match[1]) * 1024;
}

function eduDevice(ctx: KernelTestContext) {
  const device = ctx.devices.find((d) => d.model === 'edu');
  if (device === undefined) return ctx.skip('no edu device is bound to vfio-pci');
  return device;
}

/** Opens the edu device's group, attaches it and picks the platform's IOMMU; everything closes with the container. */
function session(backend: Backend, ctx: KernelTestContext) {
  const where = eduDevice(ctx);
  const container = Container.open(backend);
  const group = Group.open(backend, where.group);
  group.setContainer(container);
  const iommu = container.setIommu('auto');
  const edu = Edu.open(group.device(where.bdf));
  return {
    container,
    iommu,
    edu,
    close: () => {
      edu.disableInterrupts();
      container.close();
      group.close();
    },
  };
}

export const eduDriver = defineKernelTests('core-edu-driver', {
  'identification, liveness and factorial, polled and by interrupt': async (backend, ctx) => {
    const s = session(backend, ctx);
    try {
      const id = s.edu.identification();
      if (id.major !== 1) throw new Error(`edu identification 0x${id.raw.toString(16)}`);
      const probe = 0x12345678;
      if (s.edu.liveness(probe) !== ~probe >>> 0) throw new Error('liveness did not answer the bitwise NOT');
      if ((await s.edu.factorial(10)) !== 3628800) throw new Error('10! polled');
      s.edu.enableInterrupts();
      if ((await s.edu.factorial(12, { interrupt: true })) !== 479001600) throw new Error('12! by interrupt');
      ctx.log(`edu ${id.major}.${id.minor} on ${s.iommu.model}`);
    } finally {
      s.close();
    }
  },

  'DMA round trip through the IOMMU the platform picks, locked memory back to baseline': async (backend, ctx) => {
    const before = lockedBytes(backend, ctx);
    const s = session(backend, ctx);
    let peak = before;
    try {
      const buffer = s.container.allocateDma(8192);
      const iova = s.iommu.map(buffer);
      peak = lockedBytes(backend, ctx);
      const message = new TextEncoder().encode('vfio-ts through a real IOMMU');
      buffer.bytes.set(message);
      s.edu.enableInterrupts();
      if (!(await s.edu.roundTrip(buffer, message.length, { interrupt: true })))
        throw new Error('bytes came back changed');
      ctx.log(`${s.iommu.model}: round trip at IOVA 0x${iova.toString(16)}, locked ${before} -> ${peak} bytes`);
      buffer.free();
    } finally {
      s.close();
    }
    if (peak <= before) throw new Error(`mapping charged no locked memory (${before} -> ${peak})`);
    const after = lockedBytes(backend, ctx);
    if (after !== before) throw new Error(`locked memory ${after} bytes after teardown, ${before} before`);
  },

  'sPAPR v2: DMA through a dynamic 64-bit window made with TCE_CREATE': {
    arches: ['ppc64le', 'ppc64'],
    run: async (backend, ctx) => {
      const s = session(backend, ctx);
      try {
        const spapr = s.iommu as Spapr;
        if (spapr.model !== 'spapr-v2') return ctx.skip(`the container fell back to ${spapr.model}`);
        const window = spapr.createWindow({ pageShift: 12, windowSize: 1n << 30n });
        const buffer = s.container.allocateDma(8192);
        const iova = spapr.map(buffer, { window });
        if (iova < window.startAddr) throw new Error(`mapped at 0x${iova.toString(16)}, below the window`);
        buffer.bytes.set([0xde, 0xad, 0xbe, 0xef]);
        if (!(await s.edu.roundTrip(buffer, 4))) throw new Error('bytes came back changed');
        ctx.log(`window at 0x${window.startAddr.toString(16)}, round trip at IOVA 0x${iova.toString(16)}`);
        buffer.free();
        spapr.removeWindow(window);
      } finally {
        s.close();
      }
    },
  },
});
