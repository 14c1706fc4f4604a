// SPDX-License-Identifier: MIT
// The pseries profile against what the real ppc64le 6.12 guest showed (real-kernel-testbed.md), its hazards, and
// the big-endian ppc64 variant.
import { codec, ioctlNumber } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { pseriesBeProfile, pseriesPhbTableGroup, pseriesProfile } from '../../src/platforms/pseries.js';
import { tceIommuDriverOps } from '../../src/spapr/driver-ops.js';
import { UserArg } from '../../src/vfio/user-arg.js';
import { E, GiB, Harness, KiB, MiB, READ, WRITE } from './harness.js';

const RW = READ | WRITE;

function setup(profile = pseriesProfile, options: { rlimitMemlock?: bigint; capIpcLock?: boolean } = {}) {
  const h = new Harness(profile);
  const p = h.process(options);
  const g = h.group(1);
  const c = h.openOk(p, true, [g]);
  const b = h.mmap(p, 16n * MiB);
  expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b.start, size: 16n * MiB })).toBe(0);
  return { h, p, g, c, b };
}

describe.each([
  ['ppc64le', pseriesProfile],
  ['ppc64 (big-endian)', pseriesBeProfile],
])('pseries %s: the real guest sequence', (_name, profile) => {
  it('CHECK_EXTENSION: SPAPR_TCE 1, v2 1, TYPE1 0, EEH 0', () => {
    const h = new Harness(profile);
    const p = h.process();
    expect([2, 7, 1, 5].map((x) => h.ret(null, p, 'VFIO_CHECK_EXTENSION', x))).toEqual([1, 1, 0, 0]);
  });

  it('GET_INFO: DDW, 1 GiB at 0, pgsizes 0x1211000, 2 windows, 1 level', () => {
    const { h, p, c } = setup(profile);
    const r = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', {});
    expect(r.ret).toBe(0);
    expect(r.decode()).toMatchObject({
      flags: 1,
      dma32WindowStart: 0,
      dma32WindowSize: 0x4000_0000,
      ddw: { pgsizes: 0x1211000n, maxDynamicWindowsSupported: 2, levels: 1 },
    });
    // The bytes are the architecture's: argsz 32 reads back in the profile's byte order.
    const dv = new DataView(r.bytes.buffer);
    expect(dv.getUint32(0, profile.littleEndian)).toBe(codec('vfio_iommu_spapr_tce_info', h.arch).size);
  });

  it('MAP into the lazy 32-bit window, CREATE(12, 1 GiB) at 0x0800000000000000, MAP, REMOVE, UNREGISTER', () => {
    const { h, p, c, b, g } = setup(profile);
    const base = p.lockedVm;
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: RW })).toBe(0);
    // spapr_tce_get_table_size: 1 GiB >> (12 - 3) = 2 MiB = 512 pages of 4K.
    expect(p.lockedVm - base).toBe(512);
    const r = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 12, windowSize: GiB, levels: 1 });
    expect(r.ret).toBe(0);
    const start = r.decode<{ startAddr: bigint }>().startAddr;
    expect(start).toBe(0x0800_0000_0000_0000n);
    expect(p.lockedVm - base).toBe(1024);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: start, size: MiB, flags: RW })).toBe(0);
    expect(typeof g.dma!.translate(start + 0x123n, 8, true)).toBe('object');
    expect(g.dma!.translate(start + MiB, 8, false)).toBe(E('EFAULT'));
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: start })).toBe(0);
    expect(g.dma!.translate(start, 8, false)).toBe(E('EFAULT'));
    expect(h.ret(c, p, 'VFIO_IOMMU_UNMAP_DMA', { iova: 0n, size: MiB })).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', { vaddr: b.start, size: 16n * MiB })).toBe(0);
  });

  it('ioctl numbers are the powerpc encoding: the generic number is unknown to the driver', () => {
    const h = new Harness(profile);
    const p = h.process();
    const c = h.openOk(p, true, [h.group(1)]);
    const generic = ioctlNumber('VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'x86_64');
    const info = codec('vfio_iommu_spapr_tce_info', h.arch);
    const arg = new UserArg(p, info.encode({ argsz: info.size }));
    expect(tceIommuDriverOps.ioctl(c, generic, arg, h.ctx(p))).toBe(E('ENOTTY'));
    expect(h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', {}).ret).toBe(0);
  });
});

describe('pseries: firmware windows (spapr_tce_create_table)', () => {
  it('permissions: WRITE-only TCEs are write-only (no implied read, unlike powernv)', () => {
    const { h, p, c, b, g } = setup();
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: 4n * KiB, flags: WRITE })).toBe(0);
    expect(typeof g.dma!.translate(0n, 4, true)).toBe('object');
    expect(g.dma!.translate(0n, 4, false)).toBe(E('EPERM'));
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0x1000n, size: 4n * KiB, flags: READ })).toBe(0);
    expect(g.dma!.translate(0x1000n, 4, true)).toBe(E('EPERM'));
  });

  it('with no firmware window active, a DDW in slot 0 gets bus address 0', () => {
    const { h, p, c } = setup();
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: 0n })).toBe(0);
    const r = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 34n, levels: 1 });
    expect(r.ret).toBe(0);
    expect(r.decode<{ startAddr: bigint }>().startAddr).toBe(0n);
  });

  it('a window larger than the largest available block (2 GiB of 4K TCEs) is EINVAL, not sticky', () => {
    const { h, p, c } = setup();
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 36n, levels: 1 })).toBe(
      E('EINVAL'),
    );
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 34n, levels: 1 })).toBe(0);
  });

  it('levels 2 is charged ~4 GiB: ENOMEM under the rlimit; with CAP_IPC_LOCK EINVAL and the charge leaks', () => {
    const s1 = setup(pseriesProfile, { rlimitMemlock: 1n << 30n });
    expect(s1.h.ret(s1.c, s1.p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: GiB, levels: 2 })).toBe(
      E('ENOMEM'),
    );
    const s2 = setup(pseriesProfile, { capIpcLock: true });
    const before = s2.p.lockedVm;
    expect(s2.h.ret(s2.c, s2.p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: GiB, levels: 2 })).toBe(
      E('EINVAL'),
    );
    // The default window (512) was made first; 0xffffffff >> 12 more pages stay charged.
    expect(s2.p.lockedVm - before).toBe(512 + 0xfffff);
  });

  it('a firmware failure sticks to the PHB: every later window creation is ENODEV, across containers', () => {
    const { h, p, c, g } = setup();
    // A window smaller than its page passes the guest's checks and fails in RTAS.
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 15n, levels: 1 })).toBe(
      E('ENODEV'),
    );
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 30n, levels: 1 })).toBe(
      E('ENODEV'),
    );
    h.detach(c, p, g);
    const c2 = h.openOk(p, true, [g]);
    const b2 = h.mmap(p, MiB);
    expect(h.ret(c2, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b2.start, size: MiB })).toBe(0);
    // Even the default 32-bit window cannot come back until the guest reboots.
    expect(h.ret(c2, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b2.start, iova: 0n, size: MiB, flags: RW })).toBe(E('ENODEV'));
  });

  it('v2 multi-group: windows cannot be programmed into a second PHB (set_window EPERM)', () => {
    const h = new Harness(pseriesProfile);
    const p = h.process();
    const g2 = h.addGroup(2, pseriesPhbTableGroup);
    const c = h.openOk(p, true, [h.group(1), g2]);
    const b = h.mmap(p, MiB);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b.start, size: MiB })).toBe(0);
    const lv = p.lockedVm;
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: RW })).toBe(E('EPERM'));
    expect(p.lockedVm).toBe(lv);
    expect(c.defWindowPending).toBe(true);
  });

  it('real-kernel crash: MAP past the window end with registered memory is answered with H_PARAMETER (-4)', () => {
    const { h, p, c, b } = setup();
    const iova = GiB - 8n * KiB;
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova, size: 16n * KiB, flags: RW })).toBe(-4);
    expect(c.ubEvents[0]).toMatchObject({ kind: 'map-past-window', realKernel: 'oops' });
    expect([...c.tables[0]!.entries()]).toHaveLength(0);
  });
});

describe('EEH', () => {
  it('pseries guest: no EEH PE, EEH_PE_OP is ENODEV', () => {
    const { h, p, c } = setup();
    expect(h.ret(c, p, 'VFIO_EEH_PE_OP', { op: 4 })).toBe(E('ENODEV'));
  });
});
