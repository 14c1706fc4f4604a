// SPDX-License-Identifier: MIT
import { SimKernel } from '@vfio-ts/backend-sim';
import { bindDriver, checkInvariants, lockedVm, setRlimitMemlock, type1Mappings } from '@vfio-ts/backend-sim/testing';
import { codec, ioctlNumber } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { Container, Group, Spapr, Type1, VfioSystemError } from '../src/index.js';
import { RecordingBackend } from './recording-backend.js';

const EDU = '0000:00:01.0';

function x86() {
  const kernel = SimKernel.create('x86_64-q35');
  const backend = kernel.createProcess();
  return { kernel, backend };
}

function openFds(backend: ReturnType<typeof x86>['backend']): number {
  return [...backend.process.fds.entries()].length;
}

describe('Container.open', () => {
  it('refuses a kernel speaking another VFIO API version, and closes the fd', () => {
    const b = new RecordingBackend('x86_64', (call) =>
      call.request === ioctlNumber('VFIO_GET_API_VERSION', 'x86_64') ? 1 : 0,
    );
    expect(() => Container.open(b)).toThrow(expect.objectContaining({ code: 'VFIO_TS_API_VERSION_MISMATCH' }));
    expect(b.open_fds.size).toBe(0);
    expect(b.closed).toHaveLength(1);
  });

  it('opens on the simulator and answers CHECK_EXTENSION', () => {
    const { backend } = x86();
    using container = Container.open(backend);
    expect(container.checkExtension(3)).toBe(1);
    expect(container.checkExtension(7)).toBe(0);
  });
});

describe('setIommu', () => {
  it('needs a group first: EINVAL names VFIO_SET_IOMMU and says why', () => {
    const { backend } = x86();
    using container = Container.open(backend);
    expect(() => container.setIommu('type1v2')).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        ioctl: 'VFIO_SET_IOMMU',
        fdKind: 'container',
        hint: expect.stringMatching(/group/),
      }),
    );
    expect(container.iommu).toBeUndefined();
  });

  it("'auto' picks type1v2 on x86 and sPAPR v2 on pseries", () => {
    for (const [profile, model, type] of [
      ['x86_64-q35', 'type1v2', Type1],
      ['ppc64le-pseries', 'spapr-v2', Spapr],
    ] as const) {
      const backend = SimKernel.create(profile).createProcess();
      using container = Container.open(backend);
      using group = Group.open(backend, 1);
      group.setContainer(container);
      const iommu = container.setIommu('auto');
      expect(iommu).toBeInstanceOf(type);
      expect(iommu.model).toBe(model);
      expect(() => container.setIommu('auto')).toThrow(expect.objectContaining({ code: 'VFIO_TS_IOMMU_SET' }));
    }
  });
});

describe('Group', () => {
  it('ENOENT for a group that does not exist explains the binding', () => {
    const { backend } = x86();
    expect(() => Group.open(backend, 42)).toThrow(
      expect.objectContaining({
        code: 'ENOENT',
        syscall: 'open',
        path: '/dev/vfio/42',
        hint: expect.stringMatching(/vfio-pci/),
      }),
    );
  });

  it('EBUSY for a second open of the same group', () => {
    const { backend } = x86();
    using group = Group.open(backend, 1);
    expect(group.status()).toEqual({ flags: 1, viable: true, containerSet: false });
    expect(() => Group.open(backend, 1)).toThrow(
      expect.objectContaining({ code: 'EBUSY', hint: expect.stringMatching(/opens once/) }),
    );
  });

  it('EPERM on SET_CONTAINER when another driver holds a device of the group', () => {
    const { kernel, backend } = x86();
    bindDriver(kernel, EDU, 'host');
    using container = Container.open(backend);
    using group = Group.open(backend, 1);
    expect(group.viable).toBe(false);
    let error: unknown;
    try {
      group.setContainer(container);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VfioSystemError);
    expect(error).toMatchObject({ code: 'EPERM', ioctl: 'VFIO_GROUP_SET_CONTAINER', fdKind: 'group' });
    expect((error as VfioSystemError).hint).toMatch(/not viable.*another driver/);
    expect(group.container).toBeUndefined();
    expect(container.groups).toHaveLength(0);
  });

  it('GET_DEVICE_FD: ENODEV for an unknown name, EINVAL before an IOMMU is set', () => {
    const { backend } = x86();
    using container = Container.open(backend);
    using group = Group.open(backend, 1);
    group.setContainer(container);
    expect(() => group.device(EDU)).toThrow(
      expect.objectContaining({ code: 'EINVAL', ioctl: 'VFIO_GROUP_GET_DEVICE_FD' }),
    );
    container.setIommu('type1v2');
    expect(() => group.device('0000:09:00.0')).toThrow(
      expect.objectContaining({
        code: 'ENODEV',
        ioctl: 'VFIO_GROUP_GET_DEVICE_FD',
        hint: expect.stringMatching(/no device/),
      }),
    );
    expect(group.device(EDU).info().pci).toBe(true);
  });

  it('UNSET_CONTAINER is EBUSY while a device is open; closing the group closes the device first', () => {
    const { backend } = x86();
    const before = openFds(backend);
    const container = Container.open(backend);
    const group = Group.open(backend, 1);
    group.setContainer(container);
    container.setIommu('type1v2');
    const device = group.device(EDU);
    expect(() => group.unsetContainer()).toThrow(
      expect.objectContaining({
        code: 'EBUSY',
        ioctl: 'VFIO_GROUP_UNSET_CONTAINER',
        hint: expect.stringMatching(/device fds/),
      }),
    );
    group.close();
    expect(device.closed).toBe(true);
    expect(container.groups).toHaveLength(0);
    expect(container.iommu).toBeUndefined();
    container.close();
    expect(openFds(backend)).toBe(before);
  });
});

describe('teardown', () => {
  it('closing the container unmaps, frees memory, detaches groups and closes every fd', () => {
    const { kernel, backend } = x86();
    const fdsBefore = openFds(backend);
    const baseline = lockedVm(backend);
    const container = Container.open(backend);
    const group = Group.open(backend, 1);
    group.setContainer(container);
    const type1 = container.setIommu('type1v2');
    const device = group.device(EDU);
    const a = container.allocateDma(3 * 4096);
    const b = container.allocateDma(4096);
    type1.map(a);
    type1.map(b, { write: false });
    expect(type1Mappings(backend, container.fd)).toHaveLength(2);
    expect(lockedVm(backend)).toBe(baseline + 4);
    container.close();
    expect(device.closed).toBe(true);
    expect(a.freed && b.freed).toBe(true);
    expect(lockedVm(backend)).toBe(baseline);
    expect(group.status().containerSet).toBe(false);
    expect(checkInvariants(kernel)).toEqual([]);
    group.close();
    expect(openFds(backend)).toBe(fdsBefore);
  });

  it('ENOMEM from RLIMIT_MEMLOCK on MAP_DMA: hint, nothing mapped, locked_vm unchanged, IOVA reusable', () => {
    const { backend } = x86();
    using container = Container.open(backend);
    using group = Group.open(backend, 1);
    group.setContainer(container);
    const type1 = container.setIommu('type1v2');
    const baseline = lockedVm(backend);
    setRlimitMemlock(backend, 4096n);
    using buffer = container.allocateDma(2 * 4096);
    let error: unknown;
    try {
      type1.map(buffer);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ENOMEM', ioctl: 'VFIO_IOMMU_MAP_DMA', fdKind: 'container' });
    expect((error as VfioSystemError).hint).toMatch(/RLIMIT_MEMLOCK.*ulimit -l/);
    expect((error as Error).message).toMatch(/^ENOMEM: VFIO_IOMMU_MAP_DMA failed/);
    expect(buffer.mapped).toBe(false);
    expect(lockedVm(backend)).toBe(baseline);
    expect(type1Mappings(backend, container.fd)).toEqual([]);
    setRlimitMemlock(backend, 1n << 30n);
    const iova = type1.map(buffer);
    expect(buffer.iova).toBe(iova);
    expect(lockedVm(backend)).toBe(baseline + 2);
  });
});

describe('Type1', () => {
  it('reports page sizes, IOVA ranges and dma_avail from the capability chain', () => {
    const { backend } = x86();
    using container = Container.open(backend);
    using group = Group.open(backend, 1);
    group.setContainer(container);
    const type1 = container.setIommu('type1v2');
    const info = type1.info();
    expect(info.iovaPgsizes).toBe(0x40201000n);
    expect(info.iovaRanges).toEqual([
      { start: 0n, end: 0xfedfffffn },
      { start: 0xfef00000n, end: 0x7fffffffffn },
    ]);
    expect(info.dmaAvail).toBe(65535);
    using buffer = container.allocateDma(4096);
    type1.map(buffer);
    expect(type1.info().dmaAvail).toBe(65534);
    expect(codec('vfio_iommu_type1_info', 'x86_64').size).toBeLessThan(64);
  });

  it('maps at chosen and allocated IOVAs, EEXIST on overlap, unmaps what it mapped', () => {
    const { backend } = x86();
    using container = Container.open(backend);
    using group = Group.open(backend, 1);
    group.setContainer(container);
    const type1 = container.setIommu('type1v2');
    using a = container.allocateDma(8192);
    using b = container.allocateDma(4096);
    using c = container.allocateDma(4096);
    expect(type1.map(a, { iova: 0x100000n })).toBe(0x100000n);
    expect(() => type1.map(b, { iova: 0x101000n })).toThrow(
      expect.objectContaining({ code: 'EEXIST', ioctl: 'VFIO_IOMMU_MAP_DMA' }),
    );
    expect(b.mapped).toBe(false);
    const ib = type1.map(b);
    const ic = type1.map(c);
    expect(new Set([0x100000n, ib, ic]).size).toBe(3);
    expect(type1Mappings(backend, container.fd).map((m) => m.iova)).toEqual(
      [ib, ic, 0x100000n].sort((x, y) => Number(x - y)),
    );
    expect(type1.unmap(a)).toBe(8192n);
    expect(() => type1.unmap(a)).toThrow(expect.objectContaining({ code: 'VFIO_TS_DMA_NOT_MAPPED' }));
    type1.unmapAll();
    expect(type1Mappings(backend, container.fd)).toEqual([]);
    expect(b.mapped || c.mapped).toBe(false);
  });
});
