// SPDX-License-Identifier: MIT
/**
 * Scenarios 65 and 66 (type1-core-semantics.md §8): the vfio device cdev (/dev/vfio/devices/vfioN) and a minimal
 * /dev/iommu, on the 6.12 profile only; the group ↔ cdev exclusion both ways, and cleanup on close in any order.
 */
import { VFIO_PCI_CONFIG_REGION_INDEX, VFIO_TYPE1v2_IOMMU } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { SimKernel, type SimProcessBackend } from '../../src/index.js';
import { addIommuGroup, bindDriver, checkInvariants, stateDigest } from '../../src/testing/index.js';
import { cstr, decode, EDU, expectErrno, intArg, nr, struct } from './helpers.js';

const PROFILE = 'x86_64-q35-6.12';
/** vfio device indexes follow registration order: edu (group 1) is vfio0, e1000 (group 2) vfio1. */
const EDU_CDEV = '/dev/vfio/devices/vfio0';
const E1000_CDEV = '/dev/vfio/devices/vfio1';

function fresh(): { kernel: SimKernel; p: SimProcessBackend; baseline: string } {
  const kernel = SimKernel.create(PROFILE);
  const p = kernel.createProcess({ capIpcLock: true });
  return { kernel, p, baseline: stateDigest(kernel) };
}

function bind(p: SimProcessBackend, d: number, iommufd: number, value: Record<string, unknown> = {}): number {
  const b = struct(p, 'vfio_device_bind_iommufd', { iommufd, ...value });
  expect(p.ioctl(d, nr(p, 'VFIO_DEVICE_BIND_IOMMUFD'), b)).toBe(0);
  return decode(p, 'vfio_device_bind_iommufd', b).outDevid;
}

function bindErr(code: string, p: SimProcessBackend, d: number, arg: Uint8Array): void {
  expectErrno(code, () => p.ioctl(d, nr(p, 'VFIO_DEVICE_BIND_IOMMUFD'), arg));
}

function getInfo(p: SimProcessBackend, d: number): Record<string, any> {
  const b = struct(p, 'vfio_device_info');
  p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_INFO'), b);
  return decode(p, 'vfio_device_info', b);
}

/** Everything back to the state of a fresh kernel: no fds, no users, every group openable. */
function expectBaseline(kernel: SimKernel, p: SimProcessBackend, baseline: string): void {
  expect(checkInvariants(kernel)).toEqual([]);
  expect(stateDigest(kernel)).toBe(baseline);
  for (const id of [1, 2]) p.close(p.open(`/dev/vfio/${id}`));
}

describe('scenario 65: a cdev fd before BIND_IOMMUFD', () => {
  it('open vfioX → ok; GET_INFO → EINVAL; pread → EINVAL (and every other access)', () => {
    const { kernel, p, baseline } = fresh();
    const d = p.open(EDU_CDEV);
    expect(d).toBeGreaterThanOrEqual(3);
    // vfio_device_fops_unl_ioctl: everything but BIND is refused until access is granted — before any decoding.
    expectErrno('EINVAL', () => p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_INFO'), struct(p, 'vfio_device_info')));
    expectErrno('EINVAL', () => p.pread(d, new Uint8Array(4), 0n));
    expectErrno('EINVAL', () => p.pwrite(d, new Uint8Array(4), 0n));
    expectErrno('EINVAL', () => p.mmap({ fd: d, length: 4096, offset: 0n }));
    expectErrno('EINVAL', () => p.ioctl(d, nr(p, 'VFIO_DEVICE_RESET')));
    expectErrno('EINVAL', () => p.ioctl(d, nr(p, 'VFIO_GROUP_GET_STATUS'), struct(p, 'vfio_group_status')));
    expectErrno('EINVAL', () =>
      p.ioctl(d, nr(p, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT'), struct(p, 'vfio_device_attach_iommufd_pt')),
    );
    // An unbound cdev fd does not block the group, and several may be open.
    const d2 = p.open(EDU_CDEV);
    const g = p.open('/dev/vfio/1');
    p.close(g);
    p.close(d2);
    p.close(d);
    expectBaseline(kernel, p, baseline);
  });

  it('the nodes exist only with CONFIG_VFIO_DEVICE_CDEV: not on 6.1, not on sPAPR', () => {
    for (const profile of ['x86_64-q35', 'ppc64le-pseries', 'ppc64le-powernv9']) {
      const p = SimKernel.create(profile).createProcess();
      expectErrno('ENOENT', () => p.open('/dev/vfio/devices/vfio0'));
      expectErrno('ENOENT', () => p.open('/dev/iommu'));
    }
    const p = SimKernel.create(PROFILE).createProcess();
    expectErrno('ENOENT', () => p.open('/dev/vfio/devices/vfio2'));
    expectErrno('ENOENT', () => p.open('/dev/vfio/devices/vfio01'));
  });
});

describe('scenario 66: BIND_IOMMUFD and the group ↔ cdev exclusion', () => {
  it('BIND → 0 + devid / BIND again → EINVAL / BIND while G open → EBUSY / open G while bound → EBUSY', () => {
    const { kernel, p, baseline } = fresh();
    const ictx = p.open('/dev/iommu');
    const d = p.open(EDU_CDEV);
    expect(bind(p, d, ictx)).toBe(1);
    // Access granted: the device answers like a group-obtained fd.
    expect(getInfo(p, d).numRegions).toBe(9);
    const cfg = struct(p, 'vfio_region_info', { index: VFIO_PCI_CONFIG_REGION_INDEX });
    p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_REGION_INFO'), cfg);
    const id = new Uint8Array(4);
    expect(p.pread(d, id, decode(p, 'vfio_region_info', cfg).offset)).toBe(4);
    expect([...id]).toEqual([0x34, 0x12, 0xe8, 0x11]);
    // One device file cannot be bound twice.
    bindErr('EINVAL', p, d, struct(p, 'vfio_device_bind_iommufd', { iommufd: ictx }));
    // Open the group while a device of it is bound.
    expectErrno('EBUSY', () => p.open('/dev/vfio/1'));
    expect(checkInvariants(kernel)).toEqual([]);
    // Another group is not affected.
    p.close(p.open('/dev/vfio/2'));
    p.close(d);
    p.close(ictx);
    expectBaseline(kernel, p, baseline);

    // BIND while the group fd is open.
    const g = p.open('/dev/vfio/1');
    const ictx2 = p.open('/dev/iommu');
    const d2 = p.open(EDU_CDEV);
    const before = stateDigest(kernel);
    bindErr('EBUSY', p, d2, struct(p, 'vfio_device_bind_iommufd', { iommufd: ictx2 }));
    expect(stateDigest(kernel)).toBe(before);
    p.close(g);
    expect(bind(p, d2, ictx2)).toBe(1);
    p.close(ictx2);
    p.close(d2);
    expectBaseline(kernel, p, baseline);
  });

  it('a device opened through its group blocks BIND until its last fd closes (the deferred group release)', () => {
    const { kernel, p, baseline } = fresh();
    const c = p.open('/dev/vfio/vfio');
    const g = p.open('/dev/vfio/1');
    p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c));
    p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU);
    const gd = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    // On the group-obtained fd BIND checks its header, then refuses (df->group).
    bindErr('EINVAL', p, gd, struct(p, 'vfio_device_bind_iommufd', { iommufd: 0 }));
    bindErr('EFAULT', p, gd, new Uint8Array(8));
    p.close(g);
    const ictx = p.open('/dev/iommu');
    const d = p.open(EDU_CDEV);
    bindErr('EBUSY', p, d, struct(p, 'vfio_device_bind_iommufd', { iommufd: ictx }));
    p.close(gd);
    p.close(c);
    expect(bind(p, d, ictx)).toBe(1);
    p.close(d);
    p.close(ictx);
    expectBaseline(kernel, p, baseline);
  });

  it('argument checks in the kernel order: EFAULT, EINVAL (argsz/flags/fd < 0), EBUSY, EINVAL (bound), EBADF/EBADFD', () => {
    const { kernel, p, baseline } = fresh();
    const d = p.open(EDU_CDEV);
    const ictx = p.open('/dev/iommu');
    const bad = (value: Record<string, unknown>) => struct(p, 'vfio_device_bind_iommufd', { iommufd: ictx, ...value });
    const before = stateDigest(kernel);
    bindErr('EFAULT', p, d, bad({}).subarray(0, 15));
    bindErr('EINVAL', p, d, bad({ argsz: 15 }));
    // 6.6–6.12 know no flag (VFIO_DEVICE_BIND_FLAG_TOKEN is 6.17+).
    bindErr('EINVAL', p, d, bad({ flags: 1 }));
    bindErr('EINVAL', p, d, bad({ iommufd: -1 }));
    bindErr('EBADF', p, d, bad({ iommufd: 100 }));
    const c = p.open('/dev/vfio/vfio');
    const efd = p.eventfd();
    bindErr('EBADFD', p, d, bad({ iommufd: c }));
    bindErr('EBADFD', p, d, bad({ iommufd: efd }));
    bindErr('EBADFD', p, d, bad({ iommufd: d }));
    p.close(c);
    p.close(efd);
    expect(stateDigest(kernel)).toBe(before);
    // argsz beyond the 6.12 struct is accepted (only minsz is copied).
    expect(bind(p, d, ictx, { argsz: 4096 })).toBe(1);
    // A second cdev fd of a bound device: the cdev path opens a device once (vfio_df_open) → EINVAL.
    const d2 = p.open(EDU_CDEV);
    bindErr('EINVAL', p, d2, bad({}));
    expect(checkInvariants(kernel)).toEqual([]);
    p.close(d2);
    p.close(d);
    p.close(ictx);
    expectBaseline(kernel, p, baseline);
  });

  it('devids are iommufd object ids: per iommufd, from 1, lowest free first', () => {
    const { kernel, p, baseline } = fresh();
    const a = p.open('/dev/iommu');
    const b = p.open('/dev/iommu');
    const edu = p.open(EDU_CDEV);
    const e1000 = p.open(E1000_CDEV);
    expect(bind(p, edu, a)).toBe(1);
    expect(bind(p, e1000, a)).toBe(2);
    p.close(edu);
    const edu2 = p.open(EDU_CDEV);
    expect(bind(p, edu2, b)).toBe(1);
    p.close(edu2);
    const edu3 = p.open(EDU_CDEV);
    expect(bind(p, edu3, a)).toBe(1);
    for (const fd of [a, b, edu3, e1000]) p.close(fd);
    expectBaseline(kernel, p, baseline);
  });

  it('DMA ownership: devices of one group share an iommufd; another iommufd or a host driver → EPERM', () => {
    const kernel = SimKernel.create(PROFILE);
    addIommuGroup(kernel, {
      id: 3,
      devices: [
        { name: '0000:00:03.0', model: 'edu' },
        { name: '0000:00:03.1', model: 'edu' },
      ],
    });
    const p = kernel.createProcess();
    const baseline = stateDigest(kernel);
    const [x, y] = [p.open('/dev/iommu'), p.open('/dev/iommu')];
    const d0 = p.open('/dev/vfio/devices/vfio2');
    const d1 = p.open('/dev/vfio/devices/vfio3');
    expect(bind(p, d0, x)).toBe(1);
    bindErr('EPERM', p, d1, struct(p, 'vfio_device_bind_iommufd', { iommufd: y }));
    expect(bind(p, d1, x)).toBe(2);
    expect(checkInvariants(kernel)).toEqual([]);
    p.close(d0);
    expectErrno('EBUSY', () => p.open('/dev/vfio/3'));
    p.close(d1);
    p.close(p.open('/dev/vfio/3'));
    bindDriver(kernel, '0000:00:03.1', 'host');
    const d2 = p.open('/dev/vfio/devices/vfio2');
    bindErr('EPERM', p, d2, struct(p, 'vfio_device_bind_iommufd', { iommufd: x }));
    bindDriver(kernel, '0000:00:03.1', 'vfio-pci');
    for (const fd of [d2, x, y]) p.close(fd);
    expect(checkInvariants(kernel)).toEqual([]);
    expect(stateDigest(kernel)).toBe(baseline);
  });

  it('ATTACH/DETACH_IOMMUFD_PT on a bound cdev: no IOAS exists → ENOENT; a device id → EINVAL; DETACH → 0', () => {
    const { kernel, p, baseline } = fresh();
    const ictx = p.open('/dev/iommu');
    const d = p.open(EDU_CDEV);
    const devid = bind(p, d, ictx);
    const attach = (value: Record<string, unknown>) =>
      p.ioctl(d, nr(p, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT'), struct(p, 'vfio_device_attach_iommufd_pt', value));
    const detach = (value: Record<string, unknown>) =>
      p.ioctl(d, nr(p, 'VFIO_DEVICE_DETACH_IOMMUFD_PT'), struct(p, 'vfio_device_detach_iommufd_pt', value));
    expectErrno('ENOENT', () => attach({ ptId: 0 }));
    expectErrno('ENOENT', () => attach({ ptId: 77 }));
    expectErrno('EINVAL', () => attach({ ptId: devid }));
    // 6.12 has no PASID attach: any flag → EINVAL; argsz below offsetofend(pt_id) → EINVAL.
    expectErrno('EINVAL', () => attach({ ptId: 77, flags: 1 }));
    expectErrno('EINVAL', () => attach({ ptId: 77, argsz: 11 }));
    expect(detach({})).toBe(0);
    expectErrno('EINVAL', () => detach({ flags: 1 }));
    expectErrno('EINVAL', () => detach({ argsz: 7 }));
    // Hot reset: a cdev-opened device takes only the zero-length group array (then: no slot/bus reset → ENODEV).
    const reset = (count: number) =>
      p.ioctl(d, nr(p, 'VFIO_DEVICE_PCI_HOT_RESET'), struct(p, 'vfio_pci_hot_reset', { count }));
    expectErrno('ENODEV', () => reset(0));
    expectErrno('EINVAL', () => reset(1));
    // The iommufd itself: a non-iommufd, non-VFIO-compat number → ENOTTY.
    expectErrno('ENOTTY', () => p.ioctl(ictx, nr(p, 'VFIO_GROUP_GET_STATUS'), struct(p, 'vfio_group_status')));
    expectErrno('EINVAL', () => p.pread(ictx, new Uint8Array(4), 0n));
    p.close(d);
    p.close(ictx);
    expectBaseline(kernel, p, baseline);
  });
});

describe('cleanup on close in any order', () => {
  it('closing the iommufd first: the bound device keeps the ctx and works until its own close', () => {
    const { kernel, p, baseline } = fresh();
    const ictx = p.open('/dev/iommu');
    const d = p.open(EDU_CDEV);
    bind(p, d, ictx);
    p.close(ictx);
    expect(getInfo(p, d).numRegions).toBe(9);
    expectErrno('EBUSY', () => p.open('/dev/vfio/1'));
    expect(checkInvariants(kernel)).toEqual([]);
    p.close(d);
    expectBaseline(kernel, p, baseline);
  });

  it('closing the device first, an unbound cdev, a failed BIND, and process exit all return to baseline', () => {
    const { kernel, p, baseline } = fresh();
    const ictx = p.open('/dev/iommu');
    const d = p.open(EDU_CDEV);
    bind(p, d, ictx);
    p.close(d);
    expectErrno('EBADF', () => p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_INFO'), struct(p, 'vfio_device_info')));
    p.close(ictx);
    expectBaseline(kernel, p, baseline);

    // exit(2) with a bound cdev, an iommufd and an unbound cdev open.
    const q = kernel.createProcess();
    const qi = q.open('/dev/iommu');
    const qd = q.open(E1000_CDEV);
    q.open(EDU_CDEV);
    bind(q, qd, qi);
    expectErrno('EBUSY', () => p.open('/dev/vfio/2'));
    q.exit();
    expectBaseline(kernel, p, baseline);
  });
});
