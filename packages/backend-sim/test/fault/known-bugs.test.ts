// SPDX-License-Identifier: MIT
/**
 * Simulator bugs the fuzzers found, kept as regression tests once fixed.
 */
import { codec, ioctlNumber, VFIO_SPAPR_TCE_v2_IOMMU } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { SimKernel } from '../../src/index.js';
import { livePages, preregRegions } from '../../src/testing/index.js';

describe('simulator bugs found by fuzzing', () => {
  // SimProcessBackend.exit() did not call mmIommuCleanup, so a region orphaned by UNREGISTER with live TCEs
  // (spapr-semantics §11 Q1) stayed pinned after exit. Found by test/fuzz/ioctl-surface.test.ts (seed 32541).
  it('an orphaned pre-registered region is unpinned when its process exits', () => {
    const kernel = SimKernel.create('ppc64le-powernv9');
    const be = kernel.createProcess({ capIpcLock: true });
    const nr = (n: Parameters<typeof ioctlNumber>[0]) => ioctlNumber(n, be.arch);
    const container = be.open('/dev/vfio/vfio');
    const group = be.open(`/dev/vfio/${[...kernel.vfioGroups.keys()][0]}`);
    const fdArg = new Uint8Array(4);
    new DataView(fdArg.buffer).setInt32(0, container, be.littleEndian);
    be.ioctl(group, nr('VFIO_GROUP_SET_CONTAINER'), fdArg);
    be.ioctl(container, nr('VFIO_SET_IOMMU'), VFIO_SPAPR_TCE_v2_IOMMU);
    const m = be.mmap({ length: 4 * kernel.pageSize });
    const reg = codec('vfio_iommu_spapr_register_memory', be.arch);
    const region = reg.encode({ argsz: reg.size, flags: 0, vaddr: m.address, size: BigInt(m.length) });
    be.ioctl(container, nr('VFIO_IOMMU_SPAPR_REGISTER_MEMORY'), region);
    const map = codec('vfio_iommu_type1_dma_map', be.arch);
    be.ioctl(
      container,
      nr('VFIO_IOMMU_MAP_DMA'),
      map.encode({ argsz: map.size, flags: 3, vaddr: m.address, iova: 0n, size: BigInt(m.length) }),
    );
    // Q1: UNREGISTER with a live TCE returns 0 and orphans the region.
    be.ioctl(container, nr('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY'), region);
    expect(preregRegions(be)).toHaveLength(1);
    be.exit();
    expect(livePages(kernel)).toBe(0);
  });
});
