// SPDX-License-Identifier: MIT
/** type1-core-semantics.md §2 and scenarios 1–22, 45, 48–50: containers, groups, device fds, close in any order. */
import {
  VFIO_API_VERSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_NOIOMMU_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
} from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { SimKernel } from '../../src/index.js';
import { bindDriver, checkInvariants, containerIommu, lockedVm, type1Mappings } from '../../src/testing/index.js';
import { cstr, decode, E1000, EDU, expectErrno, intArg, mapDma, nr, setup, struct, unmapDma } from './helpers.js';

function fresh() {
  const kernel = SimKernel.create('x86_64-q35');
  const p = kernel.createProcess({ capIpcLock: true });
  return { kernel, p };
}

function status(p: ReturnType<typeof fresh>['p'], g: number): number {
  const b = struct(p, 'vfio_group_status');
  p.ioctl(g, nr(p, 'VFIO_GROUP_GET_STATUS'), b);
  return decode(p, 'vfio_group_status', b).flags;
}

describe('container fd (/dev/vfio/vfio)', () => {
  it('#1 GET_API_VERSION returns VFIO_API_VERSION', () => {
    const { p } = fresh();
    const c = p.open('/dev/vfio/vfio');
    expect(p.ioctl(c, nr(p, 'VFIO_GET_API_VERSION'))).toBe(VFIO_API_VERSION);
  });

  it('#2 CHECK_EXTENSION on a fresh container', () => {
    const { p } = fresh();
    const c = p.open('/dev/vfio/vfio');
    const ext = (v: number) => p.ioctl(c, nr(p, 'VFIO_CHECK_EXTENSION'), v);
    expect([VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL].map(ext)).toEqual([1, 1, 1]);
    expect([VFIO_UPDATE_VADDR, VFIO_DMA_CC_IOMMU, VFIO_NOIOMMU_IOMMU, VFIO_SPAPR_TCE_IOMMU, 99].map(ext)).toEqual([
      0, 0, 0, 0, 0,
    ]);
  });

  it('#2 extension 6 (type1 nesting) answers by kernel version: 1 on the 6.1 profile', () => {
    const { p } = fresh();
    const c = p.open('/dev/vfio/vfio');
    expect(p.ioctl(c, nr(p, 'VFIO_CHECK_EXTENSION'), 6)).toBe(1);
  });

  it('#3 SET_IOMMU without a group → EINVAL', () => {
    const { p } = fresh();
    const c = p.open('/dev/vfio/vfio');
    expectErrno('EINVAL', () => p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU));
  });

  it('#10 IOMMU_GET_INFO / MAP_DMA before SET_IOMMU → EINVAL', () => {
    const { p } = fresh();
    const c = p.open('/dev/vfio/vfio');
    expectErrno('EINVAL', () => p.ioctl(c, nr(p, 'VFIO_IOMMU_GET_INFO'), struct(p, 'vfio_iommu_type1_info')));
    expectErrno('EINVAL', () => mapDma(p, c, 0x10000n, 0x100000n, 0x1000n));
  });

  it('#11 SET_IOMMU(42) with a group → ENODEV; #12 SET_IOMMU twice → EINVAL', () => {
    const { p } = fresh();
    const c = p.open('/dev/vfio/vfio');
    const g = p.open('/dev/vfio/1');
    p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c));
    expectErrno('ENODEV', () => p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), 42));
    expectErrno('ENODEV', () => p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), VFIO_SPAPR_TCE_IOMMU));
    expect(p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU)).toBe(0);
    expectErrno('EINVAL', () => p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU));
  });

  it('#13 after SET_IOMMU: CHECK_EXTENSION(UPDATE_VADDR), (DMA_CC_IOMMU), (TYPE1)', () => {
    const { p, c } = setup();
    const ext = (v: number) => p.ioctl(c, nr(p, 'VFIO_CHECK_EXTENSION'), v);
    expect(ext(VFIO_UPDATE_VADDR)).toBe(1);
    // The q35 profile's intel-iommu cannot enforce cache coherency (no snoop control).
    expect(ext(VFIO_DMA_CC_IOMMU)).toBe(0);
    expect(ext(VFIO_TYPE1_IOMMU)).toBe(1);
  });

  it('#22 unknown ioctl: container before SET_IOMMU → EINVAL, after → ENOTTY; group → ENOTTY', () => {
    const { p } = fresh();
    const c0 = p.open('/dev/vfio/vfio');
    expectErrno('EINVAL', () => p.ioctl(c0, 0x3bff));
    const s = setup();
    expectErrno('ENOTTY', () => s.p.ioctl(s.c, 0x3bff));
    expectErrno('ENOTTY', () => s.p.ioctl(s.g, 0x3bff));
    // The sPAPR numbers alias type1's; on a type1 container the spapr-only ones are unknown.
    expectErrno('ENOTTY', () => s.p.ioctl(s.c, nr(s.p, 'VFIO_IOMMU_SPAPR_TCE_CREATE')));
  });

  it('each open of /dev/vfio/vfio is a new empty container', () => {
    const { p } = setup();
    const c2 = p.open('/dev/vfio/vfio');
    expectErrno('EINVAL', () => p.ioctl(c2, nr(p, 'VFIO_IOMMU_GET_INFO'), struct(p, 'vfio_iommu_type1_info')));
  });
});

describe('group fd (/dev/vfio/<id>)', () => {
  it('#4 viable group: GET_STATUS flags = VIABLE; #7 after SET_CONTAINER flags = VIABLE|CONTAINER_SET', () => {
    const { p } = fresh();
    const g = p.open('/dev/vfio/1');
    expect(status(p, g)).toBe(VFIO_GROUP_FLAGS_VIABLE);
    const c = p.open('/dev/vfio/vfio');
    expect(p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c))).toBe(0);
    expect(status(p, g)).toBe(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
  });

  it('#5 GET_STATUS argsz=4 → EINVAL; a 4-byte buffer → EFAULT', () => {
    const { p } = fresh();
    const g = p.open('/dev/vfio/1');
    expectErrno('EINVAL', () =>
      p.ioctl(g, nr(p, 'VFIO_GROUP_GET_STATUS'), struct(p, 'vfio_group_status', { argsz: 4 })),
    );
    expectErrno('EFAULT', () => p.ioctl(g, nr(p, 'VFIO_GROUP_GET_STATUS'), new Uint8Array(4)));
  });

  it('#6 a second open of the group → EBUSY (also from another process); unknown group → ENOENT', () => {
    const { kernel, p } = fresh();
    p.open('/dev/vfio/1');
    expectErrno('EBUSY', () => p.open('/dev/vfio/1'));
    expectErrno('EBUSY', () => kernel.createProcess().open('/dev/vfio/1'));
    expectErrno('ENOENT', () => p.open('/dev/vfio/77'));
  });

  it('#8 SET_CONTAINER again (to another container) → EINVAL', () => {
    const { p, g } = setup();
    const c2 = p.open('/dev/vfio/vfio');
    expectErrno('EINVAL', () => p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c2)));
  });

  it('#20 SET_CONTAINER(&-1) → EBADF, (&eventfd) / (&group fd) → EBADFD (6.2+) or EINVAL (6.1), bad pointer → EFAULT', () => {
    for (const [profile, wrongKind] of [
      ['x86_64-q35-6.12', 'EBADFD'],
      ['x86_64-q35', 'EINVAL'],
    ] as const) {
      const p = SimKernel.create(profile).createProcess();
      const g = p.open('/dev/vfio/1');
      const e = p.eventfd();
      expectErrno(wrongKind, () => p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, e)));
      expectErrno(wrongKind, () => p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, g)));
    }
    const { p } = fresh();
    const g = p.open('/dev/vfio/1');
    expectErrno('EBADF', () => p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, -1)));
    expectErrno('EFAULT', () => p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), 0));
    expectErrno('EFAULT', () => p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), new Uint8Array(2)));
    expect(status(p, g)).toBe(VFIO_GROUP_FLAGS_VIABLE);
  });

  it('SET_CONTAINER reads the fd through a by-value pointer into process memory', () => {
    const { p } = fresh();
    const g = p.open('/dev/vfio/1');
    const c = p.open('/dev/vfio/vfio');
    const m = p.mmap({ length: 4096 });
    new DataView(m.bytes.buffer, m.bytes.byteOffset).setInt32(0, c, true);
    expect(p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), m.address)).toBe(0);
  });

  it('#21 non-viable group (device bound to a host driver): flags 0, SET_CONTAINER → EPERM', () => {
    const { kernel, p } = fresh();
    bindDriver(kernel, E1000, 'host');
    const g = p.open('/dev/vfio/2');
    expect(status(p, g)).toBe(0);
    const c = p.open('/dev/vfio/vfio');
    expectErrno('EPERM', () => p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c)));
  });

  it('two groups in one container share its IOMMU', () => {
    const { p, c } = setup();
    const g2 = p.open('/dev/vfio/2');
    expect(p.ioctl(g2, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c))).toBe(0);
    const d = p.ioctl(g2, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(E1000));
    expect(d).toBeGreaterThanOrEqual(3);
  });
});

describe('device fds through the group', () => {
  it('#9 GET_DEVICE_FD before SET_IOMMU → EINVAL; without a container → EINVAL', () => {
    const { p } = fresh();
    const g = p.open('/dev/vfio/1');
    expectErrno('EINVAL', () => p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU)));
    const c = p.open('/dev/vfio/vfio');
    p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c));
    const fdsBefore = p.process.fds.size;
    expectErrno('EINVAL', () => p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU)));
    expect(p.process.fds.size).toBe(fdsBefore);
  });

  it('#14 GET_DEVICE_FD returns a new fd; #16 a second one too, both usable', () => {
    const { p, g } = setup();
    const d1 = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    const d2 = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    expect(d1).toBeGreaterThanOrEqual(3);
    expect(d2).not.toBe(d1);
    for (const d of [d1, d2]) p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_INFO'), struct(p, 'vfio_device_info'));
  });

  it('#15 unknown device → ENODEV; name with trailing junk → ENODEV; name + option → EINVAL; no NUL → EFAULT', () => {
    const { p, g } = setup();
    const get = (b: Uint8Array) => p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), b);
    expectErrno('ENODEV', () => get(cstr('0000:99:00.0')));
    expectErrno('ENODEV', () => get(cstr(`${EDU}x`)));
    expectErrno('EINVAL', () => get(cstr(`${EDU} foo`)));
    expectErrno('EFAULT', () => get(new TextEncoder().encode(EDU)));
    expectErrno('ENODEV', () => get(cstr(E1000)));
  });

  it('#17 UNSET_CONTAINER with a device open → EBUSY; #18 after closing: 0, status VIABLE, again → EINVAL', () => {
    const { p, g } = setup();
    const d = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    const d2 = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    expectErrno('EBUSY', () => p.ioctl(g, nr(p, 'VFIO_GROUP_UNSET_CONTAINER')));
    p.close(d);
    expectErrno('EBUSY', () => p.ioctl(g, nr(p, 'VFIO_GROUP_UNSET_CONTAINER')));
    p.close(d2);
    expect(p.ioctl(g, nr(p, 'VFIO_GROUP_UNSET_CONTAINER'))).toBe(0);
    expect(status(p, g)).toBe(VFIO_GROUP_FLAGS_VIABLE);
    expectErrno('EINVAL', () => p.ioctl(g, nr(p, 'VFIO_GROUP_UNSET_CONTAINER')));
  });

  it('#19 after the last group leaves the container is back to its initial state', () => {
    const { p, c, g } = setup();
    const m = p.mmap({ length: 0x4000 });
    mapDma(p, c, m.address, 0x100000n, 0x4000n);
    p.ioctl(g, nr(p, 'VFIO_GROUP_UNSET_CONTAINER'));
    expect(containerIommu(p, c)).toBeNull();
    expect(lockedVm(p)).toBe(0);
    expectErrno('EINVAL', () => mapDma(p, c, m.address, 0x100000n, 0x4000n));
    expect(p.ioctl(c, nr(p, 'VFIO_CHECK_EXTENSION'), VFIO_UPDATE_VADDR)).toBe(0);
    // SET_IOMMU works again once a group is back.
    p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c));
    expect(p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1_IOMMU)).toBe(0);
  });
});

describe('close in any order (§2.3)', () => {
  it('#48 close G (no device) with mappings: mappings gone, locked_vm back, C back to initial', () => {
    const { kernel, p, c, g } = setup({ capIpcLock: false, rlimitMemlock: 1n << 30n });
    const m = p.mmap({ length: 0x10000 });
    mapDma(p, c, m.address, 0x100000n, 0x10000n);
    expect(lockedVm(p)).toBe(16);
    p.close(g);
    expect(lockedVm(p)).toBe(0);
    expect(containerIommu(p, c)).toBeNull();
    expect(checkInvariants(kernel)).toEqual([]);
    expect(p.open('/dev/vfio/1')).toBeGreaterThanOrEqual(3);
  });

  it('#49 close C while G attached and D open: D keeps working, mappings stay; UNSET later → 0', () => {
    const { p, c, g } = setup();
    const m = p.mmap({ length: 0x1000 });
    mapDma(p, c, m.address, 0x100000n, 0x1000n);
    const d = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    const mappings = type1Mappings(p, c);
    p.close(c);
    p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_INFO'), struct(p, 'vfio_device_info'));
    expect(mappings).toHaveLength(1);
    // CAP_IPC_LOCK lifts the limit, the pages are still counted; the mapping outlives the container fd.
    expect(lockedVm(p)).toBe(1);
    p.close(d);
    expect(p.ioctl(g, nr(p, 'VFIO_GROUP_UNSET_CONTAINER'))).toBe(0);
    expect(lockedVm(p)).toBe(0);
  });

  it('#50 close G while D open: reopen → EBUSY; after closing D the group is free again', () => {
    const { p, g } = setup();
    const d = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    p.close(g);
    expectErrno('EBUSY', () => p.open('/dev/vfio/1'));
    p.close(d);
    const g2 = p.open('/dev/vfio/1');
    expect(status(p, g2)).toBe(VFIO_GROUP_FLAGS_VIABLE);
  });

  it('closed or unknown fds → EBADF for close and ioctl', () => {
    const { p, c } = setup();
    p.close(c);
    expectErrno('EBADF', () => p.close(c));
    expectErrno('EBADF', () => p.ioctl(c, nr(p, 'VFIO_GET_API_VERSION')));
    expectErrno('EBADF', () => p.ioctl(999, nr(p, 'VFIO_GET_API_VERSION')));
  });

  it('process exit returns everything to baseline', () => {
    const { kernel, p, c, g } = setup({ capIpcLock: false, rlimitMemlock: 1n << 30n });
    const m = p.mmap({ length: 0x8000 });
    mapDma(p, c, m.address, 0x100000n, 0x8000n);
    p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    p.exit();
    expect(kernel.memory.livePages).toBe(0);
    const p2 = kernel.createProcess();
    expect(p2.open('/dev/vfio/1')).toBeGreaterThanOrEqual(3);
    expect(checkInvariants(kernel)).toEqual([]);
    void unmapDma;
  });
});
