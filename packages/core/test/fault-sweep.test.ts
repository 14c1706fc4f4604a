// SPDX-License-Identifier: MIT
/**
 * Fail every kernel allocation, pin and charge site in turn (the simulator's fail-nth) during a whole driver
 * session, then close: fds, mappings and locked_vm must be back at their baseline whichever step failed.
 */
import { pseriesProfile, SimKernel } from '@vfio-ts/backend-sim';
import { failNth, lockedVm, setRlimitMemlock } from '@vfio-ts/backend-sim/testing';
import { describe, expect, it } from 'vitest';
import { Container, Edu, Group } from '../src/index.js';

const setups = [
  { name: 'x86 type1v2', profile: 'x86_64-q35' as const, device: '0000:00:01.0' },
  { name: 'pseries sPAPR v2', profile: { ...pseriesProfile, eduDmaMask: (1n << 64n) - 1n }, device: '0001:00:00.0' },
];

describe.each(setups)('fail-nth sweep, $name', ({ profile, device }) => {
  it('returns every resource to baseline after any failure', async () => {
    let swept = 0;
    for (let nth = 1; nth < 200; nth++) {
      const kernel = SimKernel.create(profile);
      const backend = kernel.createProcess();
      setRlimitMemlock(backend, 1n << 40n);
      const fds = [...backend.process.fds.entries()].length;
      const vmas = backend.process.vmas.length;
      const locked = lockedVm(backend);
      const fault = failNth(kernel, nth);
      let container: Container | undefined;
      let group: Group | undefined;
      try {
        container = Container.open(backend);
        group = Group.open(backend, 1);
        group.setContainer(container);
        const iommu = container.setIommu('auto');
        const edu = Edu.open(group.device(device));
        const a = container.allocateDma(8192);
        const b = container.allocateDma(4096);
        iommu.map(a);
        iommu.map(b);
        a.bytes.fill(3, 0, 16);
        await edu.roundTrip(a, 16);
        iommu.unmap(b);
        b.free();
      } catch {
        // Any step may fail; what matters is what closing leaves behind.
      }
      const fired = fault.fired;
      fault.detach();
      container?.close();
      group?.close();
      expect({
        nth,
        fds: [...backend.process.fds.entries()].length,
        vmas: backend.process.vmas.length,
        locked: lockedVm(backend),
      }).toEqual({ nth, fds, vmas, locked });
      if (!fired) break;
      swept = nth;
    }
    expect(swept).toBeGreaterThan(3);
  });
});
