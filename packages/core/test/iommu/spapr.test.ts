// SPDX-License-Identifier: MIT
import { type PlatformProfile, pseriesProfile, SimKernel } from '@vfio-ts/backend-sim';
import {
  addIommuGroup,
  failNth,
  injectEehFreeze,
  kernelUbEvents,
  lockedVm,
  preregRegions,
  readTces,
  setRlimitMemlock,
  tceWindows,
} from '@vfio-ts/backend-sim/testing';
import { VFIO_EEH_PE_STATE_NORMAL, VFIO_EEH_PE_STATE_STOPPED } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { Container, Edu, Group, guessLevels, type Spapr, VfioSystemError } from '../../src/index.js';

const EDU = '0001:00:00.0';
/** QEMU's spapr PHB puts a dynamic window at dma64_win_addr. */
const DDW_START = 0x0800_0000_0000_0000n;

/** The testbed's guest: edu given dma_mask=0xffffffffffffffff so it can reach a dynamic window above 256 MiB. */
const pseriesWideEdu = { ...pseriesProfile, eduDmaMask: (1n << 64n) - 1n };

function pseries(profile: PlatformProfile | string = pseriesWideEdu) {
  const kernel = SimKernel.create(profile);
  const backend = kernel.createProcess();
  const container = Container.open(backend);
  const group = Group.open(backend, 1);
  group.setContainer(container);
  return { kernel, backend, container, group };
}

describe('sPAPR v2', () => {
  it('reports the default window and DDW capabilities', () => {
    const { container, group } = pseries();
    const spapr = container.setIommu('spapr-v2');
    expect(spapr.version).toBe(2);
    expect(spapr.info()).toEqual({
      flags: 1,
      dma32WindowStart: 0n,
      dma32WindowSize: 0x4000_0000n,
      ddw: { pgsizes: 0x1211000n, maxDynamicWindowsSupported: 2, levels: 1 },
    });
    expect(spapr.defaultWindow).toEqual({
      startAddr: 0n,
      windowSize: 0x4000_0000n,
      pageShift: 12,
      levels: 1,
      isDefault: true,
    });
    container.close();
    group.close();
  });

  it("QEMU's sequence: register, remove the default window, create one at the expected start, map, DMA, tear down", async () => {
    const { backend, container, group } = pseries();
    const baseline = lockedVm(backend);
    const spapr = container.setIommu('spapr-v2');
    const buffer = container.allocateDma(64 * 1024);
    spapr.registerMemory(buffer);
    expect(buffer.registered).toBe(true);
    expect(preregRegions(backend)).toHaveLength(1);
    spapr.removeWindow(spapr.defaultWindow!);
    expect(spapr.defaultWindow).toBeUndefined();
    // With the default window gone its slot is free again, and a 4K-page window there starts at 0.
    const window = spapr.createWindow({ pageShift: 12, windowSize: 1n << 28n, startAddr: 0n });
    expect(window).toMatchObject({ startAddr: 0n, pageShift: 12, levels: 1, isDefault: false });
    expect(tceWindows(backend, container.fd).map((w) => w.startAddr)).toEqual([0n]);
    const iova = spapr.map(buffer);
    expect(iova > 0n && iova < 1n << 28n).toBe(true);
    const edu = Edu.open(group.device(EDU));
    buffer.bytes.set([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await edu.roundTrip(buffer, 8)).toBe(true);
    expect(lockedVm(backend)).toBeGreaterThan(baseline);
    container.close();
    expect(lockedVm(backend)).toBe(baseline);
    expect(preregRegions(backend)).toEqual([]);
    group.close();
  });

  it('a second window lands where firmware puts dynamic windows, and DMA goes through it', async () => {
    const { backend, container, group } = pseries();
    setRlimitMemlock(backend, 1n << 40n);
    const baseline = lockedVm(backend);
    const spapr = container.setIommu('spapr-v2');
    const window = spapr.createWindow({ pageShift: 16, windowSize: 1n << 30n, startAddr: DDW_START });
    expect(window.startAddr).toBe(DDW_START);
    expect(tceWindows(backend, container.fd).map((w) => w.startAddr)).toEqual([0n, DDW_START]);
    const buffer = container.allocateDma(64 * 1024);
    // 64K TCEs need memory backed by pages at least that large; this kernel has 4K pages.
    expect(() => spapr.map(buffer, { window })).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        ioctl: 'VFIO_IOMMU_MAP_DMA',
        hint: expect.stringMatching(/backed by pages/),
      }),
    );
    expect(buffer.mapped || buffer.registered).toBe(false);
    spapr.removeWindow(window);
    const small = spapr.createWindow({ pageShift: 12, windowSize: 1n << 30n, startAddr: DDW_START });
    const iova = spapr.map(buffer, { window: small });
    expect(iova >= DDW_START && iova < DDW_START + (1n << 30n)).toBe(true);
    const edu = Edu.open(group.device(EDU));
    buffer.bytes.set([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(await edu.roundTrip(buffer, 8)).toBe(true);
    container.close();
    expect(lockedVm(backend)).toBe(baseline);
    group.close();
  });

  it('removes and refuses a window the kernel placed elsewhere than asked', () => {
    const { backend, container, group } = pseries();
    const spapr = container.setIommu('spapr-v2');
    expect(() => spapr.createWindow({ pageShift: 16, windowSize: 1n << 30n, startAddr: 1n << 40n })).toThrow(
      expect.objectContaining({ code: 'VFIO_TS_WINDOW_START' }),
    );
    // Only the default window, which CREATE materialised first, is left.
    expect(tceWindows(backend, container.fd).map((w) => w.startAddr)).toEqual([0n]);
    expect(spapr.windows).toHaveLength(1);
    container.close();
    group.close();
  });

  it('refuses to unregister mapped memory; free() unmaps before it unregisters', () => {
    const { backend, container, group } = pseries();
    const baseline = lockedVm(backend);
    const spapr = container.setIommu('spapr-v2');
    const buffer = container.allocateDma(8192);
    spapr.map(buffer);
    expect(buffer.registered).toBe(true);
    expect(() => spapr.unregisterMemory(buffer)).toThrow(
      expect.objectContaining({ code: 'VFIO_TS_DMA_BUFFER_MAPPED' }),
    );
    expect(readTces(backend, container.fd, 0).length).toBe(2);
    buffer.free();
    expect(buffer.freed).toBe(true);
    expect(() => buffer.bytes).toThrow(expect.objectContaining({ code: 'VFIO_TS_DMA_BUFFER_FREED' }));
    expect(readTces(backend, container.fd, 0)).toEqual([]);
    expect(preregRegions(backend)).toEqual([]);
    container.close();
    group.close();
    expect(lockedVm(backend)).toBe(baseline);
  });

  it('ENOMEM on REGISTER_MEMORY names the rlimit and leaves nothing registered', () => {
    const { backend, container, group } = pseries();
    const spapr = container.setIommu('spapr-v2');
    const baseline = lockedVm(backend);
    setRlimitMemlock(backend, 4096n);
    const buffer = container.allocateDma(1 << 20);
    let error: unknown;
    try {
      spapr.map(buffer);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VfioSystemError);
    expect(error).toMatchObject({ code: 'ENOMEM', ioctl: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', fdKind: 'container' });
    expect((error as VfioSystemError).hint).toMatch(/ulimit -l/);
    expect(buffer.registered || buffer.mapped).toBe(false);
    expect(preregRegions(backend)).toEqual([]);
    expect(lockedVm(backend)).toBe(baseline);
    container.close();
    group.close();
  });

  it('refuses a mapping that would run past the end of its window (real kernels have crashed on it)', () => {
    const { backend, container, group } = pseries();
    const spapr = container.setIommu('spapr-v2');
    const window = spapr.defaultWindow!;
    using buffer = container.allocateDma(8192);
    expect(() => spapr.map(buffer, { iova: window.windowSize - 4096n })).toThrow(
      expect.objectContaining({ code: 'VFIO_TS_OUT_OF_WINDOW' }),
    );
    expect(() => spapr.map(buffer, { iova: 0x800n })).toThrow(
      expect.objectContaining({ code: 'VFIO_TS_INVALID_ARGUMENT' }),
    );
    expect(kernelUbEvents(backend, container.fd)).toEqual([]);
    expect(buffer.mapped || buffer.registered).toBe(false);
    container.close();
    group.close();
  });

  it('raises the levels while TCE_CREATE cannot allocate the table', () => {
    const kernel = SimKernel.create('ppc64le-powernv9');
    const backend = kernel.createProcess();
    using container = Container.open(backend);
    using group = Group.open(backend, 0);
    group.setContainer(container);
    setRlimitMemlock(backend, 1n << 40n);
    const spapr = container.setIommu('spapr-v2');
    // The default window is created (and allocated) by the first CREATE; fail the new window's first allocation.
    const fault = failNth(kernel, 3, ['iommu_table_alloc']);
    const window = spapr.createWindow({ pageShift: 16, windowSize: 1n << 36n });
    fault.detach();
    expect(fault.fired).toBe(true);
    expect(guessLevels(1n << 36n, 16, 16)).toBe(1);
    expect(window.levels).toBe(2);
    expect(tceWindows(backend, container.fd).find((w) => w.startAddr === window.startAddr)?.levels).toBe(2);
  });

  it('does not retry errors other than ENOMEM', () => {
    const { container, group } = pseries();
    const spapr = container.setIommu('spapr-v2');
    expect(() => spapr.createWindow({ pageShift: 13, windowSize: 1n << 30n })).toThrow(
      expect.objectContaining({ code: 'EINVAL', ioctl: 'VFIO_IOMMU_SPAPR_TCE_CREATE' }),
    );
    container.close();
    group.close();
  });
});

describe('sPAPR v1 and the fallback', () => {
  function nonDdwGroup(kernel: SimKernel): void {
    addIommuGroup(kernel, {
      id: 7,
      devices: [{ name: '0007:00:00.0', model: 'edu' }],
      platformData: {
        platform: 'pseries',
        tce32Start: 0n,
        tce32Size: 0x1000_0000,
        pgsizes: 0x1000n,
        maxLevels: 1,
        maxDynamicWindowsSupported: 0,
        eehPe: false,
      },
    });
  }

  it('falls back to v1 when the group refuses v2, and says so', async () => {
    const kernel = SimKernel.create('ppc64le-pseries');
    nonDdwGroup(kernel);
    const backend = kernel.createProcess();
    setRlimitMemlock(backend, 1n << 40n);
    const baseline = lockedVm(backend);
    const container = Container.open(backend);
    const group = Group.open(backend, 7);
    group.setContainer(container);
    const spapr = container.setIommu('auto') as Spapr;
    expect(spapr.version).toBe(1);
    expect(spapr.model).toBe('spapr');
    expect(spapr.fallbackReason).toMatchObject({ code: 'EINVAL', ioctl: 'VFIO_SET_IOMMU' });
    expect(() => spapr.createWindow({ pageShift: 12, windowSize: 1n << 20n })).toThrow(
      expect.objectContaining({ code: 'VFIO_TS_WRONG_IOMMU' }),
    );
    const edu = Edu.open(group.device('0007:00:00.0'));
    const buffer = container.allocateDma(4096);
    spapr.map(buffer);
    expect(spapr.enabled).toBe(true);
    // v1 charges the whole 32-bit window at ENABLE.
    expect(lockedVm(backend)).toBeGreaterThanOrEqual(baseline + 0x1000_0000 / backend.pageSize);
    buffer.bytes.fill(9, 0, 32);
    expect(await edu.roundTrip(buffer, 32)).toBe(true);
    container.close();
    group.close();
    expect(lockedVm(backend)).toBe(baseline);
  });

  it('a strict spapr-v2 request fails with the kernel error', () => {
    const kernel = SimKernel.create('ppc64le-pseries');
    nonDdwGroup(kernel);
    const backend = kernel.createProcess();
    using container = Container.open(backend);
    using group = Group.open(backend, 7);
    group.setContainer(container);
    expect(() => container.setIommu('spapr-v2', { fallback: false })).toThrow(
      expect.objectContaining({ code: 'EINVAL', ioctl: 'VFIO_SET_IOMMU' }),
    );
    expect(container.iommu).toBeUndefined();
  });

  it('v1 enable and disable charge and release the 32-bit window', () => {
    const { backend, container, group } = pseries();
    setRlimitMemlock(backend, 1n << 40n);
    const baseline = lockedVm(backend);
    const spapr = container.setIommu('spapr');
    spapr.enable();
    expect(lockedVm(backend)).toBe(baseline + 0x4000_0000 / backend.pageSize);
    spapr.disable();
    expect(lockedVm(backend)).toBe(baseline);
    expect(() => spapr.registerMemory(container.allocateDma(4096))).toThrow(
      expect.objectContaining({ code: 'VFIO_TS_WRONG_IOMMU' }),
    );
    container.close();
    group.close();
  });
});

describe('EEH', () => {
  it('reads the PE state through VFIO_EEH_PE_OP on a one-group container', () => {
    const kernel = SimKernel.create('ppc64le-powernv9');
    const backend = kernel.createProcess();
    using container = Container.open(backend);
    using group = Group.open(backend, 0);
    group.setContainer(container);
    const spapr = container.setIommu('spapr-v2');
    expect(spapr.eehState()).toBe(VFIO_EEH_PE_STATE_NORMAL);
    injectEehFreeze(kernel, 0);
    expect(spapr.eehState()).toBe(VFIO_EEH_PE_STATE_STOPPED);
    using second = Group.open(backend, 1);
    second.setContainer(container);
    expect(() => spapr.eehState()).toThrow(expect.objectContaining({ code: 'VFIO_TS_EEH_MULTI_GROUP' }));
  });

  it('refuses EEH where the kernel has none', () => {
    const { container, group } = pseries();
    const spapr = container.setIommu('spapr-v2');
    expect(() => spapr.eehState()).toThrow(expect.objectContaining({ code: 'VFIO_TS_NO_EEH' }));
    container.close();
    group.close();
  });
});
