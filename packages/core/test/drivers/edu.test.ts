// SPDX-License-Identifier: MIT
import { SimKernel } from '@vfio-ts/backend-sim';
import { lockedVm } from '@vfio-ts/backend-sim/testing';
import { describe, expect, it } from 'vitest';
import { Container, Edu, Group } from '../../src/index.js';

const setups = [
  { profile: 'x86_64-q35', group: 1, device: '0000:00:01.0', iommu: 'type1v2' },
  { profile: 'ppc64le-pseries', group: 1, device: '0001:00:00.0', iommu: 'spapr-v2' },
  { profile: 'ppc64-pseries', group: 1, device: '0001:00:00.0', iommu: 'spapr-v2' },
] as const;

describe.each(setups)('edu on $profile', ({ profile, group: groupId, device: name, iommu }) => {
  it('identifies itself, answers liveness and computes factorials', async () => {
    const backend = SimKernel.create(profile).createProcess();
    using container = Container.open(backend);
    const group = Group.open(backend, groupId);
    group.setContainer(container);
    const chosen = container.setIommu('auto');
    expect(chosen.model).toBe(iommu);
    const edu = Edu.open(group.device(name));
    expect(edu.identification()).toEqual({ raw: 0x010000ed, major: 1, minor: 0 });
    expect(edu.liveness(0x12345678)).toBe(~0x12345678 >>> 0);
    expect(await edu.factorial(5)).toBe(120);
    expect(await edu.factorial(12)).toBe(479001600);
  });

  it('round-trips a buffer by DMA and returns locked_vm to its baseline', async () => {
    const backend = SimKernel.create(profile).createProcess();
    const baseline = lockedVm(backend);
    const container = Container.open(backend);
    const group = Group.open(backend, groupId);
    group.setContainer(container);
    const iommuObj = container.setIommu('auto');
    const edu = Edu.open(group.device(name));
    const buffer = container.allocateDma(8192);
    iommuObj.map(buffer);
    expect(lockedVm(backend)).toBeGreaterThan(baseline);
    for (let i = 0; i < 256; i++) buffer.bytes[i] = (i * 7 + 3) & 0xff;
    expect(await edu.roundTrip(buffer, 256)).toBe(true);
    expect([...buffer.bytes.subarray(256, 512)]).toEqual([...buffer.bytes.subarray(0, 256)]);
    container.close();
    group.close();
    expect(lockedVm(backend)).toBe(baseline);
  });

  it('signals completion through an interrupt', async () => {
    const backend = SimKernel.create(profile).createProcess();
    using container = Container.open(backend);
    using group = Group.open(backend, groupId);
    group.setContainer(container);
    const iommuObj = container.setIommu('auto');
    const edu = Edu.open(group.device(name));
    edu.enableInterrupts();
    expect(await edu.factorial(6, { interrupt: true })).toBe(720);
    using buffer = container.allocateDma(4096);
    iommuObj.map(buffer);
    buffer.bytes.fill(0x5a, 0, 64);
    expect(await edu.roundTrip(buffer, 64, { interrupt: true })).toBe(true);
    edu.disableInterrupts();
  });
});
