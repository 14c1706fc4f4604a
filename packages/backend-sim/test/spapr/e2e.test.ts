// SPDX-License-Identifier: MIT
// The sPAPR driver behind the VFIO core and the process backend: ioctls as user space issues them, errors as
// VfioSystemError, the core's part of §13 (1-3, 32-34, 36, 47) and the edu device's DMA through the TCEs.
import { isSystemError } from '@vfio-ts/core';
import { codec, type IoctlName, ioctlNumber, systemConstants } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { SimKernel } from '../../src/kernel.js';
import { powernv9Profile } from '../../src/platforms/powernv.js';
import { pseriesBeProfile, pseriesProfile } from '../../src/platforms/pseries.js';
import type { SimProcessBackend } from '../../src/process-backend.js';
import { preregRegions, readTces, spaprLockedVm, tceWindows } from '../../src/testing/spapr.js';

type Init = Record<string, unknown>;

function io(be: SimProcessBackend, fd: number, name: IoctlName, init?: Init | number): number {
  const n = ioctlNumber(name, be.arch);
  if (init === undefined || typeof init === 'number') return be.ioctl(fd, n, init, { name });
  const structName = (
    {
      VFIO_IOMMU_SPAPR_TCE_GET_INFO: 'vfio_iommu_spapr_tce_info',
      VFIO_IOMMU_MAP_DMA: 'vfio_iommu_type1_dma_map',
      VFIO_IOMMU_UNMAP_DMA: 'vfio_iommu_type1_dma_unmap',
      VFIO_IOMMU_SPAPR_REGISTER_MEMORY: 'vfio_iommu_spapr_register_memory',
      VFIO_IOMMU_SPAPR_TCE_CREATE: 'vfio_iommu_spapr_tce_create',
    } as const
  )[name as 'VFIO_IOMMU_MAP_DMA'];
  const c = codec(structName, be.arch);
  return be.ioctl(fd, n, c.encode({ argsz: c.size, ...init } as never), { name });
}

function errno(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isSystemError(e)) return e.code;
    throw e;
  }
  return 'OK';
}

function openGroup(be: SimProcessBackend, id: number) {
  const container = be.open('/dev/vfio/vfio');
  const group = be.open(`/dev/vfio/${id}`);
  const fd = new Uint8Array(4);
  new DataView(fd.buffer).setInt32(0, container, be.littleEndian);
  be.ioctl(group, ioctlNumber('VFIO_GROUP_SET_CONTAINER', be.arch), fd);
  return { container, group };
}

describe.each([
  ['ppc64le-pseries', pseriesProfile, 1],
  ['ppc64-pseries (BE)', pseriesBeProfile, 1],
  ['powernv9', powernv9Profile, 0],
])('%s through the process backend', (_n, profile, groupId) => {
  it('core errors, SET_IOMMU, GET_INFO, REGISTER, MAP, CREATE, teardown to baseline', () => {
    const kernel = SimKernel.create(profile);
    const be = kernel.createProcess({ capIpcLock: true });
    const bare = be.open('/dev/vfio/vfio');
    expect(io(be, bare, 'VFIO_CHECK_EXTENSION', 7)).toBe(1);
    expect(errno(() => io(be, bare, 'VFIO_SET_IOMMU', 7))).toBe('EINVAL');
    expect(errno(() => io(be, bare, 'VFIO_IOMMU_MAP_DMA', {}))).toBe('EINVAL');
    const { container, group } = openGroup(be, groupId);
    expect(errno(() => io(be, container, 'VFIO_SET_IOMMU', 1))).toBe('ENODEV');
    expect(errno(() => io(be, container, 'VFIO_SET_IOMMU', 5))).toBe(profile === powernv9Profile ? 'EINVAL' : 'ENODEV');
    expect(io(be, container, 'VFIO_SET_IOMMU', 7)).toBe(0);
    expect(errno(() => io(be, container, 'VFIO_SET_IOMMU', 7))).toBe('EINVAL');
    expect(io(be, container, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', {})).toBe(0);

    const sys = systemConstants(be.arch);
    const mem = be.mmap({ length: 1 << 20, prot: sys.PROT_READ | sys.PROT_WRITE });
    const reg = { vaddr: mem.address, size: 1n << 20n };
    expect(io(be, container, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', reg)).toBe(0);
    expect(io(be, container, 'VFIO_IOMMU_MAP_DMA', { vaddr: mem.address, iova: 0n, size: 1n << 16n, flags: 3 })).toBe(
      0,
    );
    expect(readTces(be, container, 0).length).toBe(Number((1n << 16n) >> 12n));
    expect(io(be, container, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 12, windowSize: 1n << 30n, levels: 1 })).toBe(
      0,
    );
    expect(tceWindows(be, container).map((w) => w.startAddr)).toEqual([0n, 1n << 59n]);
    expect(preregRegions(be)).toHaveLength(1);
    expect(spaprLockedVm(be)).toBeGreaterThan(0);

    be.close(container);
    // The group still holds the container: closing the group releases everything.
    expect(spaprLockedVm(be)).toBeGreaterThan(0);
    be.close(group);
    expect(spaprLockedVm(be)).toBe(0);
    expect(preregRegions(be)).toHaveLength(0);
  });
});
