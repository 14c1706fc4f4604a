// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { ioctlHint, openHint } from '../src/hints.js';

describe('openHint', () => {
  it('tells how to load VFIO when the container node is missing', () => {
    expect(openHint('/dev/vfio/vfio', 'ENOENT')).toMatch(/modprobe vfio-pci/);
  });

  it('tells how to bind a device when a group node is missing', () => {
    const hint = openHint('/dev/vfio/12', 'ENOENT');
    expect(hint).toMatch(/group 12/);
    expect(hint).toMatch(/driver_override/);
  });

  it('covers permissions and the memlock limit', () => {
    expect(openHint('/dev/vfio/3', 'EACCES')).toMatch(/ulimit -l/);
    expect(openHint('/dev/vfio/3', 'EPERM')).toBeDefined();
    expect(openHint('/dev/vfio/3', 'EBUSY')).toMatch(/already open/);
  });

  it('says nothing about paths outside /dev/vfio', () => {
    expect(openHint('/tmp/nothing', 'ENOENT')).toBeUndefined();
  });
});

describe('ioctlHint', () => {
  it('points at RLIMIT_MEMLOCK for pinning failures and at interrupt remapping for SET_IOMMU', () => {
    expect(ioctlHint('VFIO_IOMMU_MAP_DMA', 'ENOMEM')).toMatch(/ulimit -l/);
    expect(ioctlHint('VFIO_SET_IOMMU', 'EPERM')).toMatch(/allow_unsafe_interrupts/);
    expect(ioctlHint('VFIO_IOMMU_MAP_DMA', 'EINVAL')).toBeUndefined();
  });
});
