// SPDX-License-Identifier: MIT
// spapr-semantics.md §13 on the powernv model (tce32 [0, 2 GiB), pgsizes 4K|64K|2M|1G, 64K pages).
import { codec, ioctlNumber, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_UNMAP_FLAG_ALL } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { ioda2PeTableGroup, powernv9Profile } from '../../src/platforms/powernv.js';
import { pseriesPhbTableGroup } from '../../src/platforms/pseries.js';
import { mmIommuList } from '../../src/powerpc/mm-iommu.js';
import { iommuGroupGetIommudata } from '../../src/powerpc/table-group.js';
import { tceIommuDriverOps } from '../../src/spapr/driver-ops.js';
import { UserArg } from '../../src/vfio/user-arg.js';
import { E, GiB, Harness, KiB, MiB, READ, WRITE } from './harness.js';

const RW = READ | WRITE;
const B64M = 64n * MiB;

/** "S": G1 in a v2 container, B (64 MiB) registered. */
function setupS(options: { rlimitMemlock?: bigint; capIpcLock?: boolean } = {}) {
  const h = new Harness(powernv9Profile);
  const p = h.process(options);
  const g1 = h.group(0);
  const c = h.openOk(p, true, [g1]);
  const b = h.mmap(p, B64M);
  const base = p.lockedVm;
  const reg = h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b.start, size: B64M });
  return { h, p, g1, c, b, base, reg };
}

describe('powernv: GET_INFO, binding, ENOTTY (P0 4-6, 19, 35, 52)', () => {
  it('4: v2 GET_INFO by argsz', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c = h.openOk(p, true, [h.group(0)]);
    const r = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', { argsz: 32 });
    expect(r.ret).toBe(0);
    expect(r.decode()).toMatchObject({
      flags: 1,
      dma32WindowStart: 0,
      dma32WindowSize: 0x8000_0000,
      ddw: { pgsizes: 0x40211000n, maxDynamicWindowsSupported: 2, levels: 5 },
    });
    const info = codec('vfio_iommu_spapr_tce_info', h.arch);
    const raw = new Uint8Array(info.size).fill(0xaa);
    info.view(raw).argsz = 16;
    expect(h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', undefined, raw).ret).toBe(0);
    expect([...raw.subarray(16)].every((x) => x === 0xaa)).toBe(true);
    expect(info.decode(raw).flags).toBe(1);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', { argsz: 15 })).toBe(E('EINVAL'));
  });

  it('5: v1 GET_INFO has no DDW', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c = h.openOk(p, false, [h.group(0)]);
    const r = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', {});
    expect(r.ret).toBe(0);
    expect(r.decode()).toMatchObject({ flags: 0, dma32WindowSize: 0x8000_0000, ddw: { pgsizes: 0n, levels: 0 } });
  });

  it('6: v2 without REGISTER: MAP/UNMAP/UNREGISTER are EPERM', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c = h.openOk(p, true, [h.group(0)]);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: 0n, iova: 0n, size: 65536n, flags: RW })).toBe(E('EPERM'));
    expect(h.ret(c, p, 'VFIO_IOMMU_UNMAP_DMA', { iova: 0n, size: 65536n })).toBe(E('EPERM'));
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', { vaddr: 0n, size: 65536n })).toBe(E('EPERM'));
  });

  it('19: v1/v2-only requests and unknown requests are ENOTTY', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const v1 = h.openOk(p, false, [h.group(0)]);
    for (const name of [
      'VFIO_IOMMU_SPAPR_REGISTER_MEMORY',
      'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY',
      'VFIO_IOMMU_SPAPR_TCE_CREATE',
      'VFIO_IOMMU_SPAPR_TCE_REMOVE',
    ] as const) {
      expect(h.ret(v1, p, name, {})).toBe(E('ENOTTY'));
    }
    const v2 = h.openOk(p, true, [h.group(1)]);
    expect(h.ret(v2, p, 'VFIO_IOMMU_ENABLE')).toBe(E('ENOTTY'));
    expect(h.ret(v2, p, 'VFIO_IOMMU_DISABLE')).toBe(E('ENOTTY'));
    // A device ioctl's number means nothing to the container driver.
    const unknown = ioctlNumber('VFIO_DEVICE_GET_INFO', h.arch);
    expect(tceIommuDriverOps.ioctl(v2, unknown, new UserArg(p, undefined), h.ctx(p))).toBe(E('ENOTTY'));
  });

  it('1 (driver part): CHECK_EXTENSION answers with or without a container', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const ask = (c: Parameters<Harness['ret']>[0], x: number) => h.ret(c, p, 'VFIO_CHECK_EXTENSION', x);
    for (const c of [null, h.openOk(p, true, [h.group(0)])]) {
      expect([ask(c, 2), ask(c, 7), ask(c, 1), ask(c, 3), ask(c, 99), ask(c, 5)]).toEqual([1, 1, 0, 0, 0, 1]);
    }
  });

  it('35: the first binding process owns the container', () => {
    const { h, c } = setupS();
    const other = h.process();
    expect(h.ret(c, other, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', {})).toBe(E('EPERM'));
    expect(h.ret(c, other, 'VFIO_IOMMU_MAP_DMA', { vaddr: 0n, iova: 0n, size: 0n, flags: RW })).toBe(E('EPERM'));
    expect(h.ret(c, other, 'VFIO_CHECK_EXTENSION', 7)).toBe(1);
  });
});

describe('powernv: REGISTER/UNREGISTER (P0 7-9, 16-17; P1 23, 26, 41-42; P2 44, 46)', () => {
  it('7: REGISTER charges once; a duplicate in the same container is EBUSY', () => {
    const { h, p, c, b, base, reg } = setupS();
    expect(reg).toBe(0);
    expect(p.lockedVm - base).toBe(1024);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b.start, size: B64M })).toBe(E('EBUSY'));
    expect(p.lockedVm - base).toBe(1024);
  });

  it('8: a partial overlap is EINVAL, with nothing charged', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c = h.openOk(p, true, [h.group(0)]);
    const m = h.mmap(p, 2n * B64M);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: m.start, size: B64M })).toBe(0);
    const lv = p.lockedVm;
    const overlap = { vaddr: m.start + 64n * KiB, size: B64M };
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', overlap)).toBe(E('EINVAL'));
    expect(p.lockedVm).toBe(lv);
  });

  it('8 (kernel order): an overlap whose tail is unmapped fails on the pin first: EFAULT', () => {
    const { h, p, c, b } = setupS();
    const r = h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b.start + 64n * KiB, size: B64M });
    expect(r).toBe(E('EFAULT'));
  });

  it('9: argument errors', () => {
    const { h, p, c, b } = setupS();
    const reg = (x: Record<string, unknown>) => h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', x);
    expect(reg({ vaddr: b.start + 4n * KiB, size: 64n * KiB })).toBe(E('EINVAL'));
    expect(reg({ vaddr: b.start, size: 68n * KiB })).toBe(E('EINVAL'));
    expect(reg({ vaddr: b.start, size: 64n * KiB, flags: 1 })).toBe(E('EINVAL'));
    expect(reg({ argsz: 23, vaddr: b.start, size: 64n * KiB })).toBe(E('EINVAL'));
  });

  it('16-17: UNREGISTER must match exactly and gives the charge back', () => {
    const { h, p, c, b, base } = setupS();
    const map = { vaddr: b.start, iova: 0n, size: MiB, flags: RW };
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_UNMAP_DMA', { iova: 0n, size: MiB })).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', { vaddr: b.start, size: B64M / 2n })).toBe(E('ENOENT'));
    const unaligned = { vaddr: b.start + 4n * KiB, size: B64M };
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', unaligned)).toBe(E('EINVAL'));
    const before = p.lockedVm;
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', { vaddr: b.start, size: B64M })).toBe(0);
    expect(before - p.lockedVm).toBe(1024);
    expect(p.lockedVm - base).toBe(128);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', { vaddr: b.start, size: B64M })).toBe(E('ENOENT'));
  });

  it('23: RLIMIT_MEMLOCK 32 MiB refuses 64 MiB unless CAP_IPC_LOCK', () => {
    expect(setupS({ rlimitMemlock: 32n * MiB }).reg).toBe(E('ENOMEM'));
    const s = setupS({ rlimitMemlock: 32n * MiB, capIpcLock: true });
    expect(s.reg).toBe(0);
    expect(s.p.lockedVm - s.base).toBe(1024);
  });

  it('26: REGISTER of unmapped or read-only memory is EFAULT with nothing charged', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c = h.openOk(p, true, [h.group(0)]);
    const ro = h.mmap(p, MiB, { readOnly: true });
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: 0x1000_0000n, size: MiB })).toBe(E('EFAULT'));
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: ro.start, size: MiB })).toBe(E('EFAULT'));
    expect(p.lockedVm).toBe(0);
  });

  it('41: two containers of one process share the registration and its charge', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c1 = h.openOk(p, true, [h.group(0)]);
    const c2 = h.openOk(p, true, [h.group(1)]);
    const b = h.mmap(p, B64M);
    const reg = { vaddr: b.start, size: B64M };
    expect(h.ret(c1, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', reg)).toBe(0);
    expect(h.ret(c2, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: 0n, flags: RW })).toBe(E('EPERM'));
    const lv = p.lockedVm;
    expect(h.ret(c2, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', reg)).toBe(0);
    expect(h.ret(c1, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', reg)).toBe(0);
    expect(p.lockedVm).toBe(lv);
    expect(h.ret(c2, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', reg)).toBe(0);
    expect(lv - p.lockedVm).toBe(1024);
  });

  it('42: MAP looks registrations up per process; UNREGISTER only what this container holds', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c1 = h.openOk(p, true, [h.group(0)]);
    const c2 = h.openOk(p, true, [h.group(1)]);
    const b = h.mmap(p, B64M);
    const b2 = h.mmap(p, MiB);
    expect(h.ret(c1, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b.start, size: B64M })).toBe(0);
    expect(h.ret(c2, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b2.start, size: MiB })).toBe(0);
    expect(h.ret(c2, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: RW })).toBe(0);
    expect(h.ret(c2, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', { vaddr: b.start, size: B64M })).toBe(E('ENOENT'));
  });

  it('44 (Q1): UNREGISTER with live TCEs returns 0 and leaves an orphan', () => {
    const { h, p, c, b } = setupS();
    const reg = { vaddr: b.start, size: B64M };
    const map = { vaddr: b.start, iova: 0n, size: 64n * KiB, flags: RW };
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(0);
    const lv = p.lockedVm;
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', reg)).toBe(0);
    expect(p.lockedVm).toBe(lv);
    expect(mmIommuList(p)).toHaveLength(1);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_UNMAP_DMA', { iova: 0n, size: 64n * KiB })).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', reg)).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', reg)).toBe(0);
    expect(p.lockedVm).toBe(lv);
    expect(mmIommuList(p)).toHaveLength(1);
    const m2 = h.mmap(p, B64M);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: m2.start, size: B64M })).toBe(0);
  });

  it('46: REGISTER of size 0 is ENOMEM', () => {
    const { h, p, c, b } = setupS();
    const m = h.mmap(p, MiB);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: m.start, size: 0n })).toBe(E('ENOMEM'));
    expect(b.start).toBeGreaterThan(0n);
  });
});

describe('powernv: MAP/UNMAP (P0 10-15; P2 45, 48, 49)', () => {
  it('10: the first MAP creates the default window (+128 pages); a remap replaces silently', () => {
    const { h, p, c, b, base } = setupS();
    const map = { vaddr: b.start, iova: 0n, size: MiB, flags: RW };
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(0);
    expect(p.lockedVm - base).toBe(1024 + 128);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(0);
    expect(p.lockedVm - base).toBe(1024 + 128);
    expect(mmIommuList(p)[0]!.mapped).toBe(1 + 256);
  });

  it('11-13: lookup, window and alignment errors; a misaligned iova returns +1', () => {
    const { h, p, c, b } = setupS();
    const map = (x: Record<string, unknown>) =>
      h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: 64n * KiB, flags: RW, ...x });
    const other = h.mmap(p, MiB);
    expect(map({ vaddr: other.start })).toBe(E('EINVAL'));
    expect(map({ iova: 3n * GiB })).toBe(E('ENXIO'));
    expect(map({ iova: 0x100000n })).toBe(0);
    expect(map({ iova: 0x1001n })).toBe(1);
    const tbl = c.tables[0]!;
    expect(tbl.get(1)).toBeUndefined();
    expect(map({ size: 0x1800n })).toBe(E('EINVAL'));
    expect(map({ vaddr: b.start + 0x800n })).toBe(E('EINVAL'));
    expect(map({ flags: 0 })).toBe(E('EINVAL'));
    expect(map({ flags: VFIO_DMA_MAP_FLAG_VADDR })).toBe(E('EINVAL'));
  });

  it('14-15: UNMAP leaves size alone, tolerates holes; its errors', () => {
    const { h, p, c, b } = setupS();
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: RW })).toBe(0);
    const r = h.call(c, p, 'VFIO_IOMMU_UNMAP_DMA', { iova: 0n, size: MiB });
    expect(r.ret).toBe(0);
    expect(r.decode<{ size: bigint }>().size).toBe(MiB);
    expect(h.ret(c, p, 'VFIO_IOMMU_UNMAP_DMA', { iova: 0n, size: MiB })).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_UNMAP_DMA', { iova: 0x8000n, size: 64n * KiB })).toBe(0);
    expect(mmIommuList(p)[0]!.mapped).toBe(1);
    const unmap = (x: Record<string, unknown>) =>
      h.ret(c, p, 'VFIO_IOMMU_UNMAP_DMA', { iova: 0n, size: 64n * KiB, ...x });
    expect(unmap({ flags: VFIO_DMA_UNMAP_FLAG_ALL })).toBe(E('EINVAL'));
    expect(unmap({ iova: 3n * GiB })).toBe(E('ENXIO'));
    expect(unmap({ size: 0x1800n })).toBe(E('EINVAL'));
    expect(unmap({ iova: 0x1001n })).toBe(1);
  });

  it('45: MAP of size 0 still creates the default window', () => {
    const { h, p, c, b, base } = setupS();
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: 0n, flags: RW })).toBe(0);
    expect(p.lockedVm - base).toBe(1024 + 128);
  });

  it('48 (Q3): a MAP running past the window end maps the in-window part and is recorded as kernel UB', () => {
    const { h, p, c, b } = setupS();
    const iova = 2n * GiB - 64n * KiB;
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova, size: MiB, flags: RW })).toBe(0);
    const tbl = c.tables[0]!;
    expect([...tbl.entries()].length).toBe(16);
    expect(c.ubEvents).toEqual([{ kind: 'map-past-window', iova, size: MiB, realKernel: 'ub' }]);
  });

  it('49: a 2M-page window needs hugetlb-backed registrations', () => {
    const { h, p, c, b } = setupS();
    const create = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 21, windowSize: 1n << 32n, levels: 1 });
    expect(create.ret).toBe(0);
    const start = create.decode<{ startAddr: bigint }>().startAddr;
    expect(start).toBe(1n << 59n);
    const map = (vaddr: bigint) => h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr, iova: start, size: 2n * MiB, flags: RW });
    expect(map(b.start)).toBe(E('EINVAL'));
    const huge = h.mmap(p, 4n * MiB, { hugeSize: 2 * 1024 * 1024 });
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: huge.start, size: 4n * MiB })).toBe(0);
    expect(map(huge.start)).toBe(0);
  });
});

describe('powernv: windows (P0 20-22; P1 39-40; P2 50-53)', () => {
  it('20-21: CREATE takes slot 1 at 1<<59; REMOVE matches by containment', () => {
    const { h, p, c, base } = setupS();
    const r = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 36n, levels: 1 });
    expect(r.ret).toBe(0);
    expect(r.decode<{ startAddr: bigint }>().startAddr).toBe(1n << 59n);
    expect(p.lockedVm - base).toBe(1024 + 128 + 256);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 36n, levels: 1 })).toBe(
      E('ENOSPC'),
    );
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: 1n << 59n })).toBe(0);
    expect(p.lockedVm - base).toBe(1024 + 128);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: 0x1000n })).toBe(0);
    expect(p.lockedVm - base).toBe(1024);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: 0n })).toBe(E('EINVAL'));
  });

  it('22: REMOVE(0) cancels the pending default window; the next CREATE gets slot 0 at 0', () => {
    const { h, p, c, b, base } = setupS();
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: 0n })).toBe(0);
    expect(p.lockedVm - base).toBe(1024);
    const r = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 12, windowSize: GiB, levels: 1 });
    expect(r.ret).toBe(0);
    expect(r.decode<{ startAddr: bigint }>().startAddr).toBe(0n);
    expect(p.lockedVm - base).toBe(1024 + 64);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: RW })).toBe(0);
  });

  it('39: CREATE argument errors, each after the pending default window was created', () => {
    const bad = [
      { pageShift: 13, windowSize: 1n << 30n, levels: 1 },
      { pageShift: 16, windowSize: 3n * GiB, levels: 1 },
      { pageShift: 16, windowSize: 1n << 30n, levels: 0 },
      { pageShift: 16, windowSize: 1n << 30n, levels: 6 },
      { pageShift: 16, windowSize: 1n << 30n, levels: 1, flags: 1 },
      { argsz: 39, pageShift: 16, windowSize: 1n << 30n, levels: 1 },
    ];
    for (const [i, args] of bad.entries()) {
      const { h, p, c, base } = setupS();
      expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', args), `case ${i}`).toBe(E('EINVAL'));
      // flags and argsz are checked before the default window is made.
      expect(p.lockedVm - base, `case ${i}`).toBe(i >= 4 ? 1024 : 1024 + 128);
    }
  });

  it('40: a table that does not fit the rlimit is ENOMEM and leaves slot 1 free', () => {
    const { h, p, c, base } = setupS({ rlimitMemlock: (1024n + 128n + 100n) * 64n * KiB });
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 36n, levels: 1 })).toBe(
      E('ENOMEM'),
    );
    expect(p.lockedVm - base).toBe(1024 + 128);
    expect(c.tables[1]).toBeNull();
  });

  it('50: with both slots used, ENOSPC wins over bad parameters', () => {
    const { h, p, c } = setupS();
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 30n, levels: 1 })).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 13, windowSize: 3n, levels: 9 })).toBe(E('ENOSPC'));
  });

  it('51 (Q4): a failed create_table keeps its locked_vm charge', () => {
    const { h, p, c, base } = setupS({ capIpcLock: true });
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 56n, levels: 1 })).toBe(
      E('EINVAL'),
    );
    expect(p.lockedVm - base).toBe(1024 + 128 + 2 ** 28);
  });

  it('52-53: GET_INFO is static; REMOVE of a missing window keeps the pending default', () => {
    const { h, p, c, b } = setupS();
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: 1n << 59n })).toBe(E('EINVAL'));
    expect(c.defWindowPending).toBe(true);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: RW })).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: 0n })).toBe(0);
    const info = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', {}).decode();
    expect(info).toMatchObject({ dma32WindowStart: 0, dma32WindowSize: 0x8000_0000 });
  });
});

describe('powernv: v1 (P0 18; P1 24, 25, 27, 28)', () => {
  it('18: ENABLE charges the whole 32-bit window; DISABLE only blocks MAP', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c = h.openOk(p, false, [h.group(0)]);
    const b = h.mmap(p, MiB);
    const map = { vaddr: b.start, iova: 0n, size: 64n * KiB, flags: RW };
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(E('EPERM'));
    expect(h.ret(c, p, 'VFIO_IOMMU_ENABLE')).toBe(0);
    expect(p.lockedVm).toBe(32768);
    expect(h.ret(c, p, 'VFIO_IOMMU_ENABLE')).toBe(E('EBUSY'));
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(0);
    expect(p.lockedVm).toBe(32768 + 128);
    expect(h.ret(c, p, 'VFIO_IOMMU_DISABLE')).toBe(0);
    expect(p.lockedVm).toBe(128);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(E('EPERM'));
    expect(h.ret(c, p, 'VFIO_IOMMU_DISABLE')).toBe(0);
    expect(c.tables[0]!.get(0)).toBeDefined();
  });

  it('24: ENABLE over the rlimit is ENOMEM but binds the process', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process({ rlimitMemlock: GiB });
    const c = h.openOk(p, false, [h.group(0)]);
    expect(h.ret(c, p, 'VFIO_IOMMU_ENABLE')).toBe(E('ENOMEM'));
    expect(c.enabled).toBe(false);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: 0n, iova: 0n, size: 0n, flags: RW })).toBe(E('EPERM'));
    expect(h.ret(c, h.process(), 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', {})).toBe(E('EPERM'));
  });

  it('25: the default table charge can fail the first MAP; raising the limit lets it through', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process({ rlimitMemlock: 2n * GiB });
    const c = h.openOk(p, false, [h.group(0)]);
    const b = h.mmap(p, MiB);
    const map = { vaddr: b.start, iova: 0n, size: 64n * KiB, flags: RW };
    expect(h.ret(c, p, 'VFIO_IOMMU_ENABLE')).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(E('ENOMEM'));
    expect(c.defWindowPending).toBe(true);
    p.rlimitMemlock = 4n * GiB;
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(0);
  });

  it('27: v1 pins for write whatever the flags say, so read-only memory is EFAULT (the doc expected 0 for READ)', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c = h.openOk(p, false, [h.group(0)]);
    const ro = h.mmap(p, MiB, { readOnly: true });
    expect(h.ret(c, p, 'VFIO_IOMMU_ENABLE')).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: ro.start, iova: 0n, size: 4n * KiB, flags: READ })).toBe(
      E('EFAULT'),
    );
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: ro.start, iova: 0n, size: 4n * KiB, flags: WRITE })).toBe(
      E('EFAULT'),
    );
    expect([...c.tables[0]!.entries()]).toHaveLength(0);
  });

  it('28: a failing page clears the entries this call set; later entries keep their old TCE', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c = h.openOk(p, false, [h.group(0)]);
    const a = h.mmap(p, MiB);
    const b = h.mmap(p, MiB);
    expect(h.ret(c, p, 'VFIO_IOMMU_ENABLE')).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: a.start, iova: 0n, size: 12n * KiB, flags: RW })).toBe(0);
    const old2 = c.tables[0]!.get(2);
    // The third 4K page lies past b's end, in the guard page below the next mapping.
    const vaddr = b.end - 8n * KiB;
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr, iova: 0n, size: 12n * KiB, flags: RW })).toBe(E('EFAULT'));
    expect(c.tables[0]!.get(0)).toBeUndefined();
    expect(c.tables[0]!.get(1)).toBeUndefined();
    expect(c.tables[0]!.get(2)).toBe(old2);
  });
});

describe('powernv: groups (P1 29-31, 33)', () => {
  it('29: v1 holds one group', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process();
    const c = h.openOk(p, false, [h.group(0)]);
    expect(h.attach(c, p, h.group(1))).toBe(E('EBUSY'));
  });

  it('30: v2 shares windows with a new group; other platforms and non-DDW groups are refused', () => {
    const { h, p, c, b } = setupS();
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: RW })).toBe(0);
    const g2 = h.group(1);
    expect(h.attach(c, p, g2)).toBe(0);
    const w = g2.dma!.translate(0x10n, 4, false);
    expect(typeof w).toBe('object');
    expect(iommuGroupGetIommudata(h.kernel, g2)!.tables[0]).toBe(c.tables[0]);
    const gx = h.addGroup(7, pseriesPhbTableGroup);
    expect(h.attach(c, p, gx)).toBe(E('EPERM'));
    const g0 = h.addGroup(8, { ...ioda2PeTableGroup, maxDynamicWindowsSupported: 0 });
    expect(h.attach(c, p, g0)).toBe(E('EINVAL'));
  });

  it('31 (Q6): detaching any group wipes every mapping; windows and charges stay', () => {
    const { h, p, c, b } = setupS();
    const g2 = h.group(1);
    expect(h.attach(c, p, g2)).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: RW })).toBe(0);
    const lv = p.lockedVm;
    h.detach(c, p, g2);
    expect([...c.tables[0]!.entries()]).toHaveLength(0);
    expect(p.lockedVm).toBe(lv);
    expect(g2.dma).toBeNull();
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', { vaddr: b.start, size: B64M })).toBe(0);
    expect(lv - p.lockedVm).toBe(1024);
  });

  it('33: the last detach releases tables, registrations and the charge', () => {
    const { h, p, c, b, g1, base } = setupS();
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: RW })).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 36n, levels: 1 })).toBe(0);
    h.detach(c, p, g1);
    expect(p.lockedVm).toBe(base);
    expect(mmIommuList(p)).toHaveLength(0);
    expect(b.pages.every((pg) => pg.pinCount === 0)).toBe(true);
  });
});
