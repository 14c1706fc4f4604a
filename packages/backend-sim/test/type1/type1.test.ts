// SPDX-License-Identifier: MIT
/** type1-core-semantics.md §3 and scenarios 23–47: GET_INFO, MAP_DMA, UNMAP_DMA, VADDR, DIRTY_PAGES, accounting. */
import {
  codec,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_TYPE1_IOMMU,
  walkCapabilities,
} from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { SimKernel } from '../../src/index.js';
import {
  checkInvariants,
  failNth,
  lockedVm,
  passFd,
  setRlimitMemlock,
  type1Mappings,
} from '../../src/testing/index.js';
import { decode, expectErrno, intArg, mapDma, nr, setup, struct, unmapDma } from '../core/helpers.js';

const RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

function getInfo(s: ReturnType<typeof setup>, argsz: number, length = Math.max(argsz, 24)) {
  const b = new Uint8Array(length);
  codec('vfio_iommu_type1_info', s.p.arch).encodeInto({ argsz } as never, b);
  s.p.ioctl(s.c, nr(s.p, 'VFIO_IOMMU_GET_INFO'), b);
  return b;
}

function dmaAvail(s: ReturnType<typeof setup>): number {
  const b = getInfo(s, 256);
  const info = decode(s.p, 'vfio_iommu_type1_info', b);
  const cap = walkCapabilities(b, info.capOffset, s.p.arch).find((x) => x.id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL)!;
  return codec('vfio_iommu_type1_info_dma_avail', s.p.arch).decode(b, cap.offset).avail;
}

describe('VFIO_IOMMU_GET_INFO', () => {
  it('#23 argsz=16: returns 0, argsz grows to what the caps need, only 16 bytes written', () => {
    const s = setup();
    const b = getInfo(s, 16, 24);
    const info = decode(s.p, 'vfio_iommu_type1_info', b);
    // 6.1 profile: caps unpadded — migration 32 + dma_avail 12 + iova 16+2*16.
    expect(info.argsz).toBe(24 + 32 + 12 + 16 + 32);
    expect(info.flags).toBe(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
    expect(info.iovaPgsizes).toBe(0x40201000n);
    expect([...b.subarray(16)]).toEqual(new Array(8).fill(0));
  });

  it('#23 on the 6.12 profile every cap is padded to 8 bytes: argsz = 88 + 16n = 120', () => {
    const s = setup({ profile: 'x86_64-q35-6.12' });
    expect(decode(s.p, 'vfio_iommu_type1_info', getInfo(s, 16, 24)).argsz).toBe(120);
  });

  it('#24 argsz=256: cap_offset 24, chain migration → dma_avail (65535) → iova ranges', () => {
    for (const profile of ['x86_64-q35', 'x86_64-q35-6.12']) {
      const s = setup({ profile });
      const b = getInfo(s, 256);
      const info = decode(s.p, 'vfio_iommu_type1_info', b);
      expect(info.capOffset).toBe(24);
      const caps = walkCapabilities(b, info.capOffset, s.p.arch);
      expect(caps.map((c) => c.id)).toEqual([
        VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
        VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
        VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
      ]);
      expect(caps.map((c) => c.offset)).toEqual(profile === 'x86_64-q35' ? [24, 56, 68] : [24, 56, 72]);
      const mig = codec('vfio_iommu_type1_info_cap_migration', s.p.arch).decode(b, caps[0]!.offset);
      expect(mig.pgsizeBitmap).toBe(4096n);
      expect(mig.maxDirtyBitmapSize).toBe(0x10000000n);
      expect(codec('vfio_iommu_type1_info_dma_avail', s.p.arch).decode(b, caps[1]!.offset).avail).toBe(65535);
      const iova = codec('vfio_iommu_type1_info_cap_iova_range', s.p.arch).decode(b, caps[2]!.offset);
      expect(iova.nrIovas).toBe(2);
      expect(iova.iovaRanges.map((r) => [r.start, r.end])).toEqual([
        [0n, 0xfedfffffn],
        [0xfef00000n, 0x7fffffffffn],
      ]);
    }
  });

  it('#25 argsz=8 → EINVAL; short buffer → EFAULT', () => {
    const s = setup();
    expectErrno('EINVAL', () => getInfo(s, 8, 24));
    expectErrno('EFAULT', () => s.p.ioctl(s.c, nr(s.p, 'VFIO_IOMMU_GET_INFO'), new Uint8Array(12)));
  });
});

describe('VFIO_IOMMU_MAP_DMA', () => {
  it('#26 map 2 MiB: avail 65534, locked_vm +512', () => {
    const s = setup({ capIpcLock: false, rlimitMemlock: 1n << 30n });
    const m = s.p.mmap({ length: 0x200000 });
    expect(mapDma(s.p, s.c, m.address, 0x100000n, 0x200000n, RW)).toBe(0);
    expect(dmaAvail(s)).toBe(65534);
    expect(lockedVm(s.p)).toBe(512);
  });

  it('#27 flags 0 / flags 8 / size 0 / unaligned iova / unaligned vaddr / argsz 31 → EINVAL, nothing changes', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x2000 });
    const bad: [number, bigint, bigint, bigint, number?][] = [
      [0, m.address, 0x100000n, 0x1000n],
      [8 | RW, m.address, 0x100000n, 0x1000n],
      [RW, m.address, 0x100000n, 0n],
      [RW, m.address, 0x100800n, 0x1000n],
      [RW, m.address + 1n, 0x100000n, 0x1000n],
      [RW, m.address, 0x100000n, 0x1000n, 31],
      [RW | VFIO_DMA_MAP_FLAG_VADDR, m.address, 0x100000n, 0x1000n],
    ];
    for (const [flags, vaddr, iova, size, argsz] of bad) {
      const b = struct(s.p, 'vfio_iommu_type1_dma_map', { flags, vaddr, iova, size, ...(argsz ? { argsz } : {}) });
      expectErrno('EINVAL', () => s.p.ioctl(s.c, nr(s.p, 'VFIO_IOMMU_MAP_DMA'), b));
    }
    expect(type1Mappings(s.p, s.c)).toEqual([]);
    expect(dmaAvail(s)).toBe(65535);
  });

  it('#28 exact duplicate / partial overlap → EEXIST; #29 abutting map → 0 and one more entry (no merge)', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x400000 });
    mapDma(s.p, s.c, m.address, 0x100000n, 0x200000n);
    expectErrno('EEXIST', () => mapDma(s.p, s.c, m.address, 0x100000n, 0x200000n));
    expectErrno('EEXIST', () => mapDma(s.p, s.c, m.address, 0x2ff000n, 0x2000n));
    expectErrno('EEXIST', () => mapDma(s.p, s.c, m.address, 0x0n, 0x101000n));
    expect(mapDma(s.p, s.c, m.address, 0x300000n, 0x1000n)).toBe(0);
    expect(type1Mappings(s.p, s.c).map((x) => x.iova)).toEqual([0x100000n, 0x300000n]);
    expect(dmaAvail(s)).toBe(65533);
  });

  it('#30 wrapping iova → EINVAL; iova in the MSI hole → EINVAL; straddling two ranges → EINVAL', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x2000 });
    expectErrno('EINVAL', () => mapDma(s.p, s.c, m.address, 0xfffffffffffff000n, 0x2000n));
    expectErrno('EINVAL', () => mapDma(s.p, s.c, m.address, 0xfee00000n, 0x1000n));
    expectErrno('EINVAL', () => mapDma(s.p, s.c, m.address, 0xfedff000n, 0x2000n));
    expectErrno('EINVAL', () => mapDma(s.p, s.c, m.address, 0x8000000000n, 0x1000n));
    expect(mapDma(s.p, s.c, m.address, 0x7ffffff000n, 0x1000n)).toBe(0);
  });

  it('#31 RLIMIT_MEMLOCK = locked_vm + 1 page, no CAP_IPC_LOCK: a 2-page map → ENOMEM, nothing changes', () => {
    const s = setup({ capIpcLock: false, rlimitMemlock: 1n << 30n });
    const m = s.p.mmap({ length: 0x3000 });
    mapDma(s.p, s.c, m.address, 0x100000n, 0x1000n);
    setRlimitMemlock(s.p, 2n * 4096n);
    expectErrno('ENOMEM', () => mapDma(s.p, s.c, m.address + 0x1000n, 0x200000n, 0x2000n));
    expect(lockedVm(s.p)).toBe(1);
    expect(dmaAvail(s)).toBe(65534);
    expect(type1Mappings(s.p, s.c)).toHaveLength(1);
    expect(checkInvariants(s.kernel)).toEqual([]);
    // CAP_IPC_LOCK (captured at MAP time) lifts the limit.
    s.p.process.capIpcLock = true;
    expect(mapDma(s.p, s.c, m.address + 0x1000n, 0x200000n, 0x2000n)).toBe(0);
    expect(lockedVm(s.p)).toBe(3);
  });

  it('#32 vaddr not mapped / read-only buffer with WRITE → EFAULT; read-only buffer with READ only → 0', () => {
    const s = setup();
    expectErrno('EFAULT', () => mapDma(s.p, s.c, 0x1000n, 0x100000n, 0x1000n));
    const ro = s.p.mmap({ length: 0x1000, prot: 1 });
    expectErrno('EFAULT', () => mapDma(s.p, s.c, ro.address, 0x100000n, 0x1000n, RW));
    expect(mapDma(s.p, s.c, ro.address, 0x100000n, 0x1000n, VFIO_DMA_MAP_FLAG_READ)).toBe(0);
    // A buffer with a hole: all or nothing.
    const m = s.p.mmap({ length: 0x2000 });
    expectErrno('EFAULT', () => mapDma(s.p, s.c, m.address, 0x200000n, 0x4000n));
    expect(type1Mappings(s.p, s.c)).toHaveLength(1);
    expect(checkInvariants(s.kernel)).toEqual([]);
  });

  it('#33 dma_entry_limit reached → ENOSPC; unmap one; map again → 0', () => {
    const kernel = SimKernel.create('x86_64-q35', { type1: { dmaEntryLimit: 64 } });
    const p = kernel.createProcess({ capIpcLock: true });
    const c = p.open('/dev/vfio/vfio');
    const g = p.open('/dev/vfio/1');
    p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c));
    p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), 3);
    const m = p.mmap({ length: 0x1000 });
    for (let i = 0; i < 64; i++) mapDma(p, c, m.address, BigInt(i) * 0x1000n, 0x1000n);
    expectErrno('ENOSPC', () => mapDma(p, c, m.address, 0x100000n, 0x1000n));
    expect(unmapDma(p, c, 0x5000n, 0x1000n)).toBe(0x1000n);
    expect(mapDma(p, c, m.address, 0x100000n, 0x1000n)).toBe(0);
  });

  it('#33 with the real limit 65535', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x1000 });
    for (let i = 0; i < 65535; i++) mapDma(s.p, s.c, m.address, BigInt(i) * 0x1000n, 0x1000n);
    expectErrno('ENOSPC', () => mapDma(s.p, s.c, m.address, 0x10000000n, 0x1000n));
    expect(dmaAvail(s)).toBe(0);
    expect(unmapDma(s.p, s.c, 0x0n, 0x1000n)).toBe(0x1000n);
    expect(mapDma(s.p, s.c, m.address, 0x10000000n, 0x1000n)).toBe(0);
    expect(lockedVm(s.p)).toBe(65535);
  });

  it('mapping the same vaddr twice is counted twice', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x4000 });
    mapDma(s.p, s.c, m.address, 0x100000n, 0x4000n);
    mapDma(s.p, s.c, m.address, 0x200000n, 0x4000n);
    expect(lockedVm(s.p)).toBe(8);
  });

  it('every fault site of MAP_DMA rolls back completely (fail-nth sweep)', () => {
    for (let n = 1; ; n++) {
      const s = setup({ capIpcLock: false, rlimitMemlock: 1n << 30n });
      const m = s.p.mmap({ length: 0x4000 });
      const f = failNth(s.kernel, n);
      let failed = false;
      try {
        mapDma(s.p, s.c, m.address, 0x100000n, 0x4000n);
      } catch {
        failed = true;
      }
      f.detach();
      expect(checkInvariants(s.kernel)).toEqual([]);
      if (!f.fired) {
        expect(failed).toBe(false);
        expect(n).toBeGreaterThan(3);
        break;
      }
      expect(failed).toBe(true);
      expect(lockedVm(s.p)).toBe(0);
      expect(type1Mappings(s.p, s.c)).toEqual([]);
    }
  });
});

describe('VFIO_IOMMU_UNMAP_DMA', () => {
  it('#34 unmap exactly: size written back, avail +1, locked_vm −512', () => {
    const s = setup({ capIpcLock: false, rlimitMemlock: 1n << 30n });
    const m = s.p.mmap({ length: 0x200000 });
    mapDma(s.p, s.c, m.address, 0x100000n, 0x200000n);
    expect(unmapDma(s.p, s.c, 0x100000n, 0x200000n)).toBe(0x200000n);
    expect(dmaAvail(s)).toBe(65535);
    expect(lockedVm(s.p)).toBe(0);
  });

  it('#35 unmap a range with no mapping → 0, size 0', () => {
    const s = setup();
    expect(unmapDma(s.p, s.c, 0x100000n, 0x1000n)).toBe(0n);
  });

  it('#36 v2: unmapping part of a mapping → EINVAL, user size unchanged, mapping intact', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x2000 });
    mapDma(s.p, s.c, m.address, 0x1000n, 0x2000n);
    for (const iova of [0x1000n, 0x2000n]) {
      const b = struct(s.p, 'vfio_iommu_type1_dma_unmap', { iova, size: 0x1000n });
      expectErrno('EINVAL', () => s.p.ioctl(s.c, nr(s.p, 'VFIO_IOMMU_UNMAP_DMA'), b));
      expect(decode(s.p, 'vfio_iommu_type1_dma_unmap', b).size).toBe(0x1000n);
    }
    expect(type1Mappings(s.p, s.c)).toHaveLength(1);
  });

  it('#37 v2: two mappings and a hole, one unmap covering all → sum', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x2000 });
    mapDma(s.p, s.c, m.address, 0x1000n, 0x1000n);
    mapDma(s.p, s.c, m.address, 0x5000n, 0x2000n);
    expect(unmapDma(s.p, s.c, 0x0n, 0x10000n)).toBe(0x3000n);
    expect(type1Mappings(s.p, s.c)).toEqual([]);
  });

  it('#38 size 0 / size 0x800 / iova 0x800 / argsz 23 / flags 8 → EINVAL', () => {
    const s = setup();
    const cases: Record<string, unknown>[] = [
      { iova: 0x1000n, size: 0n },
      { iova: 0x1000n, size: 0x800n },
      { iova: 0x800n, size: 0x1000n },
      { iova: 0x1000n, size: 0x1000n, argsz: 23 },
      { iova: 0x1000n, size: 0x1000n, flags: 8 },
      { iova: 0xfffffffffffff000n, size: 0x2000n },
    ];
    for (const v of cases) {
      const b = struct(s.p, 'vfio_iommu_type1_dma_unmap', v);
      expectErrno('EINVAL', () => s.p.ioctl(s.c, nr(s.p, 'VFIO_IOMMU_UNMAP_DMA'), b));
    }
  });

  it('#39 UNMAP_ALL iova=0 size=0 → every mapping, size = total; ALL with iova → EINVAL', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x3000 });
    mapDma(s.p, s.c, m.address, 0x1000n, 0x3000n);
    mapDma(s.p, s.c, m.address, 0x100000000n, 0x1000n);
    expectErrno('EINVAL', () => unmapDma(s.p, s.c, 0x1000n, 0n, VFIO_DMA_UNMAP_FLAG_ALL));
    expectErrno('EINVAL', () => unmapDma(s.p, s.c, 0n, 0x1000n, VFIO_DMA_UNMAP_FLAG_ALL));
    expect(unmapDma(s.p, s.c, 0n, 0n, VFIO_DMA_UNMAP_FLAG_ALL)).toBe(0x4000n);
    expect(lockedVm(s.p)).toBe(0);
  });

  it('#40 v1: unmap starting inside a mapping → 0, size 0, mapping intact', () => {
    const s = setup({ iommu: VFIO_TYPE1_IOMMU });
    const m = s.p.mmap({ length: 0x2000 });
    mapDma(s.p, s.c, m.address, 0x1000n, 0x2000n);
    expect(unmapDma(s.p, s.c, 0x2000n, 0x1000n)).toBe(0n);
    expect(type1Mappings(s.p, s.c)).toHaveLength(1);
  });

  it('#41 v1: unmap covering the first page of a mapping removes all of it', () => {
    const s = setup({ iommu: VFIO_TYPE1_IOMMU });
    const m = s.p.mmap({ length: 0x2000 });
    mapDma(s.p, s.c, m.address, 0x1000n, 0x2000n);
    expect(unmapDma(s.p, s.c, 0x1000n, 0x1000n)).toBe(0x2000n);
    expect(type1Mappings(s.p, s.c)).toEqual([]);
  });
});

describe('VADDR update (live update)', () => {
  it('#42 UNMAP VADDR then MAP VADDR with a new vaddr', () => {
    const s = setup();
    const a = s.p.mmap({ length: 0x2000 });
    const b = s.p.mmap({ length: 0x2000 });
    mapDma(s.p, s.c, a.address, 0x10000n, 0x2000n);
    expect(unmapDma(s.p, s.c, 0x10000n, 0x2000n, VFIO_DMA_UNMAP_FLAG_VADDR)).toBe(0x2000n);
    expect(type1Mappings(s.p, s.c)[0]!.vaddrInvalid).toBe(true);
    expect(mapDma(s.p, s.c, b.address, 0x10000n, 0x2000n, VFIO_DMA_MAP_FLAG_VADDR)).toBe(0);
    expect(type1Mappings(s.p, s.c)[0]).toMatchObject({ vaddr: b.address, vaddrInvalid: false });
  });

  it('#43 MAP VADDR on a valid mapping / other size / unmapped iova / with READ → EINVAL/EINVAL/ENOENT/EINVAL', () => {
    const s = setup();
    const a = s.p.mmap({ length: 0x2000 });
    mapDma(s.p, s.c, a.address, 0x10000n, 0x2000n);
    expectErrno('EINVAL', () => mapDma(s.p, s.c, a.address, 0x10000n, 0x2000n, VFIO_DMA_MAP_FLAG_VADDR));
    unmapDma(s.p, s.c, 0x10000n, 0x2000n, VFIO_DMA_UNMAP_FLAG_VADDR);
    expectErrno('EINVAL', () => mapDma(s.p, s.c, a.address, 0x10000n, 0x1000n, VFIO_DMA_MAP_FLAG_VADDR));
    expectErrno('ENOENT', () => mapDma(s.p, s.c, a.address, 0x80000n, 0x1000n, VFIO_DMA_MAP_FLAG_VADDR));
    expectErrno('EINVAL', () =>
      mapDma(s.p, s.c, a.address, 0x10000n, 0x2000n, VFIO_DMA_MAP_FLAG_VADDR | VFIO_DMA_MAP_FLAG_READ),
    );
  });

  it('#44 UNMAP VADDR twice on a range → EINVAL on the second, the first call’s marks kept', () => {
    const s = setup();
    const a = s.p.mmap({ length: 0x2000 });
    mapDma(s.p, s.c, a.address, 0x10000n, 0x1000n);
    mapDma(s.p, s.c, a.address, 0x20000n, 0x1000n);
    unmapDma(s.p, s.c, 0x20000n, 0x1000n, VFIO_DMA_UNMAP_FLAG_VADDR);
    // Covers both: marks the first, meets the already-invalid second, undoes its own mark.
    expectErrno('EINVAL', () => unmapDma(s.p, s.c, 0x10000n, 0x20000n, VFIO_DMA_UNMAP_FLAG_VADDR));
    expect(type1Mappings(s.p, s.c).map((m) => m.vaddrInvalid)).toEqual([false, true]);
  });

  it('#45 with a vaddr invalid, SET_CONTAINER of a second group → EBUSY', () => {
    const s = setup();
    const a = s.p.mmap({ length: 0x1000 });
    mapDma(s.p, s.c, a.address, 0x10000n, 0x1000n);
    unmapDma(s.p, s.c, 0x10000n, 0x1000n, VFIO_DMA_UNMAP_FLAG_VADDR);
    const g2 = s.p.open('/dev/vfio/2');
    expectErrno('EBUSY', () => s.p.ioctl(g2, nr(s.p, 'VFIO_GROUP_SET_CONTAINER'), intArg(s.p, s.c)));
    // A normal unmap of the invalidated mapping is allowed and clears the block.
    expect(unmapDma(s.p, s.c, 0x10000n, 0x1000n)).toBe(0x1000n);
    expect(s.p.ioctl(g2, nr(s.p, 'VFIO_GROUP_SET_CONTAINER'), intArg(s.p, s.c))).toBe(0);
  });

  it('MAP VADDR from another process (live update) moves the locked-page charge to it', () => {
    const s = setup({ capIpcLock: false, rlimitMemlock: 1n << 30n });
    const a = s.p.mmap({ length: 0x4000 });
    mapDma(s.p, s.c, a.address, 0x10000n, 0x4000n);
    unmapDma(s.p, s.c, 0x10000n, 0x4000n, VFIO_DMA_UNMAP_FLAG_VADDR);
    const next = s.kernel.createProcess({ rlimitMemlock: 1n << 30n });
    const c2 = passFd(s.p, s.c, next);
    const b = next.mmap({ length: 0x4000 });
    expect(mapDma(next, c2, b.address, 0x10000n, 0x4000n, VFIO_DMA_MAP_FLAG_VADDR)).toBe(0);
    expect([lockedVm(s.p), lockedVm(next)]).toEqual([0, 4]);
    expect(type1Mappings(next, c2)[0]!.ownerPid).toBe(next.pid);
    expect(checkInvariants(s.kernel)).toEqual([]);
    // The new owner's limit applies: re-owning fails with ENOMEM when it cannot take the charge.
    unmapDma(next, c2, 0x10000n, 0x4000n, VFIO_DMA_UNMAP_FLAG_VADDR);
    const third = s.kernel.createProcess({ rlimitMemlock: 4096n });
    const c3 = passFd(next, c2, third);
    const t = third.mmap({ length: 0x4000 });
    expectErrno('ENOMEM', () => mapDma(third, c3, t.address, 0x10000n, 0x4000n, VFIO_DMA_MAP_FLAG_VADDR));
    expect([lockedVm(next), lockedVm(third)]).toEqual([4, 0]);
    s.p.exit();
    next.exit();
    third.exit();
    expect(s.kernel.memory.livePages).toBe(0);
  });
});

describe('VFIO_IOMMU_DIRTY_PAGES', () => {
  function dirty(s: ReturnType<typeof setup>, flags: number, extra?: Uint8Array): number {
    const head = codec('vfio_iommu_type1_dirty_bitmap', s.p.arch);
    const b = new Uint8Array(head.size + (extra?.length ?? 0));
    head.encodeInto({ argsz: b.length, flags } as never, b);
    if (extra) b.set(extra, head.size);
    return s.p.ioctl(s.c, nr(s.p, 'VFIO_IOMMU_DIRTY_PAGES'), b);
  }

  it('#47 v1 START → EACCES; v2 START|STOP → EINVAL; START twice → 0; STOP without START → 0', () => {
    const v1 = setup({ iommu: VFIO_TYPE1_IOMMU });
    expectErrno('EACCES', () => dirty(v1, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
    const s = setup();
    expect(dirty(s, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP)).toBe(0);
    expectErrno('EINVAL', () => dirty(s, VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
    expectErrno('EINVAL', () => dirty(s, 0));
    expect(dirty(s, VFIO_IOMMU_DIRTY_PAGES_FLAG_START)).toBe(0);
    expect(dirty(s, VFIO_IOMMU_DIRTY_PAGES_FLAG_START)).toBe(0);
  });

  it('#47 GET_BITMAP before START → EINVAL; after START every mapped page is dirty', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x4000 });
    mapDma(s.p, s.c, m.address, 0x10000n, 0x4000n);
    const bitmapMem = s.p.mmap({ length: 4096 });
    const get = codec('vfio_iommu_type1_dirty_bitmap_get', s.p.arch).encode({
      iova: 0x10000n,
      size: 0x4000n,
      bitmap: { pgsize: 4096n, size: 8n, data: bitmapMem.address },
    } as never);
    expectErrno('EINVAL', () => dirty(s, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, get));
    dirty(s, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
    expect(dirty(s, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, get)).toBe(0);
    expect(bitmapMem.bytes[0]).toBe(0x0f);
  });

  it('#46 UNMAP GET_DIRTY_BITMAP|ALL → EINVAL; GET_DIRTY_BITMAP without START → EINVAL; with START → bits', () => {
    const s = setup();
    const m = s.p.mmap({ length: 0x2000 });
    mapDma(s.p, s.c, m.address, 0x10000n, 0x2000n);
    const bitmapMem = s.p.mmap({ length: 4096 });
    const unmapWithBitmap = (flags: number) => {
      const head = codec('vfio_iommu_type1_dma_unmap', s.p.arch);
      const bm = codec('vfio_bitmap', s.p.arch);
      const b = new Uint8Array(head.size + bm.size);
      head.encodeInto(
        {
          argsz: b.length,
          flags,
          iova: flags & VFIO_DMA_UNMAP_FLAG_ALL ? 0n : 0x10000n,
          size: flags & VFIO_DMA_UNMAP_FLAG_ALL ? 0n : 0x2000n,
        } as never,
        b,
      );
      bm.encodeInto({ pgsize: 4096n, size: 8n, data: bitmapMem.address } as never, b, head.size);
      s.p.ioctl(s.c, nr(s.p, 'VFIO_IOMMU_UNMAP_DMA'), b);
      return decode(s.p, 'vfio_iommu_type1_dma_unmap', b).size;
    };
    expectErrno('EINVAL', () => unmapWithBitmap(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL));
    expectErrno('EINVAL', () => unmapWithBitmap(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP));
    dirty(s, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
    expect(unmapWithBitmap(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)).toBe(0x2000n);
    expect(bitmapMem.bytes[0]).toBe(0x03);
  });
});
