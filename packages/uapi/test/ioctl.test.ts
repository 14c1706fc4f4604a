// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { ARCHS, type IoctlName, ioctlNumber, ioctls, ioctlsByNumber, minArgsz } from '../src/index.js';

// Independent ground truth: syzkaller's sys/linux/dev_vfio.txt.const and the kernel's own _IOC encoding rules.
describe('ioctl numbers', () => {
  it('VFIO_GET_API_VERSION matches the published values per ABI', () => {
    for (const arch of ['x86_64', 'aarch64', 'i386'] as const)
      expect(ioctlNumber('VFIO_GET_API_VERSION', arch)).toBe(15204);
    for (const arch of ['ppc64le', 'ppc64'] as const) expect(ioctlNumber('VFIO_GET_API_VERSION', arch)).toBe(536886116);
  });

  it('VFIO_IOMMU_SPAPR_TCE_CREATE is 0x3b77 generic and 0x20003b77 on powerpc', () => {
    expect(ioctlNumber('VFIO_IOMMU_SPAPR_TCE_CREATE', 'x86_64')).toBe(0x3b77);
    expect(ioctlNumber('VFIO_IOMMU_SPAPR_TCE_CREATE', 'ppc64le')).toBe(0x20003b77);
  });

  it('every ioctl is _IO(";", 100 + n): no size or direction bits, powerpc adds _IOC_NONE = 1 << 29', () => {
    for (const name of Object.keys(ioctls) as IoctlName[]) {
      const generic = ioctlNumber(name, 'x86_64');
      expect(generic >> 8, name).toBe(';'.charCodeAt(0));
      expect(generic & 0xff, name).toBeGreaterThanOrEqual(100);
      expect(ioctlNumber(name, 'aarch64')).toBe(generic);
      expect(ioctlNumber(name, 'i386')).toBe(generic);
      expect(ioctlNumber(name, 'ppc64le')).toBe(generic + 0x20000000);
      expect(ioctlNumber(name, 'ppc64')).toBe(generic + 0x20000000);
    }
  });

  it('numbers alias across fd kinds and IOMMU backends, and the table tells them apart', () => {
    const n = ioctlNumber('VFIO_IOMMU_GET_INFO', 'ppc64le');
    expect(ioctlNumber('VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'ppc64le')).toBe(n);
    expect(ioctlNumber('VFIO_DEVICE_GET_PCI_HOT_RESET_INFO', 'ppc64le')).toBe(n);
    expect(
      ioctlsByNumber('container', n, 'ppc64le')
        .map((i) => i.name)
        .sort(),
    ).toEqual(['VFIO_IOMMU_GET_INFO', 'VFIO_IOMMU_SPAPR_TCE_GET_INFO']);
    expect(ioctlsByNumber('device', n, 'ppc64le').map((i) => i.name)).toEqual(['VFIO_DEVICE_GET_PCI_HOT_RESET_INFO']);
    const plus17 = ioctlNumber('VFIO_IOMMU_DIRTY_PAGES', 'x86_64');
    expect(ioctlNumber('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', 'x86_64')).toBe(plus17);
    expect(ioctlNumber('VFIO_DEVICE_FEATURE', 'x86_64')).toBe(plus17);
  });

  it('the overlay fixes the header kernel-doc lines that name structs that do not exist', () => {
    expect(ioctls.VFIO_IOMMU_MAP_DMA.arg.struct).toBe('vfio_iommu_type1_dma_map');
    expect(ioctls.VFIO_IOMMU_UNMAP_DMA.arg.struct).toBe('vfio_iommu_type1_dma_unmap');
    expect(ioctls.VFIO_IOMMU_GET_INFO.arg.struct).toBe('vfio_iommu_type1_info');
    expect(ioctls.VFIO_DEVICE_QUERY_GFX_PLANE.arg.struct).toBe('vfio_device_gfx_plane_info');
    expect(ioctls.VFIO_IOMMU_SPAPR_TCE_CREATE).toMatchObject({ fdKind: 'container', iommu: ['spapr-v2'] });
    expect(ioctls.VFIO_GROUP_SET_CONTAINER.arg).toMatchObject({ kind: 'int-pointer', type: '__s32' });
  });

  it('minArgsz is the kernel minsz: offsetofend of the named member, per ABI', () => {
    // vfio_iommu_type1_info: minsz = offsetofend(iova_pgsizes) = 16 everywhere, although sizeof differs on i386.
    for (const arch of ARCHS) expect(minArgsz('VFIO_IOMMU_GET_INFO', arch)).toBe(16);
    expect(minArgsz('VFIO_IOMMU_SPAPR_TCE_CREATE', 'ppc64le')).toBe(40);
    expect(minArgsz('VFIO_IOMMU_MAP_DMA', 'x86_64')).toBe(32);
    expect(minArgsz('VFIO_GET_API_VERSION', 'x86_64')).toBe(0);
  });
});
