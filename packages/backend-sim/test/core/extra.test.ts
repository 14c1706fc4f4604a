// SPDX-License-Identifier: MIT
/** Scenarios 64 and 68, and the memory rules behind "no mapping points at freed memory". */
import { ioctlNumber, VFIO_SPAPR_TCE_v2_IOMMU, VFIO_TYPE1_IOMMU } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import type { EduDevice } from '../../src/devices/edu.js';
import { SimKernel } from '../../src/index.js';
import { checkInvariants, device, livePages, lockedVm, mmapHuge } from '../../src/testing/index.js';
import { configOffset, cstr, EDU, expectErrno, mapDma, nr, setup, struct, unmapDma } from './helpers.js';

describe('scenario 64: iommufd ioctls on a group-obtained device fd', () => {
  it('BIND_IOMMUFD → ENOTTY on 6.1 (no VFIO_DEVICE_CDEV; the real 6.1 guest), ATTACH_IOMMUFD_PT → ENOTTY', () => {
    const { p, g } = setup();
    const d = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    expectErrno('ENOTTY', () => p.ioctl(d, nr(p, 'VFIO_DEVICE_BIND_IOMMUFD'), struct(p, 'vfio_device_bind_iommufd')));
    expectErrno('ENOTTY', () =>
      p.ioctl(d, nr(p, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT'), struct(p, 'vfio_device_attach_iommufd_pt')),
    );
  });
});

describe('scenario 68: a powerpc kernel speaks only powerpc numbers', () => {
  it('CHECK_EXTENSION(TYPE1) as 0x20003b65 → 0 (no type1 on powerpc); the x86 number on a fresh container → EINVAL', () => {
    const kernel = SimKernel.create('ppc64le-pseries');
    const p = kernel.createProcess();
    const c = p.open('/dev/vfio/vfio');
    expect(p.ioctl(c, ioctlNumber('VFIO_CHECK_EXTENSION', 'ppc64le'), VFIO_TYPE1_IOMMU)).toBe(0);
    expect(p.ioctl(c, ioctlNumber('VFIO_CHECK_EXTENSION', 'ppc64le'), VFIO_SPAPR_TCE_v2_IOMMU)).toBe(1);
    expectErrno('EINVAL', () => p.ioctl(c, ioctlNumber('VFIO_CHECK_EXTENSION', 'x86_64'), VFIO_TYPE1_IOMMU));
  });
});

describe('pinned memory outlives munmap, and only pinned memory', () => {
  it('munmap of a DMA-mapped buffer keeps the pages for the device until UNMAP_DMA', () => {
    const { kernel, p, c, g } = setup();
    const d = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    const buf = p.mmap({ length: 4096 });
    buf.bytes.set([1, 2, 3, 4]);
    mapDma(p, c, buf.address, 0x100000n, 4096n);
    const before = livePages(kernel);
    p.munmap(buf);
    expect(livePages(kernel)).toBe(before);
    expect(checkInvariants(kernel)).toEqual([]);
    // The device still reads what was there: RAM → device buffer.
    const cfg = new Uint8Array(2);
    const cfgAt = configOffset(p, d) + 4n;
    p.pread(d, cfg, cfgAt);
    cfg[0]! |= 4;
    p.pwrite(d, cfg, cfgAt);
    const w64 = (off: bigint, v: bigint) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, v, true);
      p.pwrite(d, b, off);
    };
    w64(0x80n, 0x100000n);
    w64(0x88n, 0x40000n);
    w64(0x90n, 4n);
    w64(0x98n, 1n);
    expect([...(device(kernel, EDU) as EduDevice).dmaBuf.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    expect(buf.bytes.length).toBe(0);
    unmapDma(p, c, 0x100000n, 4096n);
    expect(livePages(kernel)).toBe(before - 1);
    expect(lockedVm(p)).toBe(0);
  });

  it('hugepage-backed memory maps and accounts per PAGE_SIZE', () => {
    const { p, c } = setup();
    const huge = mmapHuge(p, 2 << 20, 2 << 20);
    expect(huge.address % BigInt(2 << 20)).toBe(0n);
    mapDma(p, c, huge.address, 0x200000n, 2n << 20n);
    expect(lockedVm(p)).toBe(512);
  });
});
