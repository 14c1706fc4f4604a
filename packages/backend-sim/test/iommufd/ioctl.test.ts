// SPDX-License-Identifier: MIT
/**
 * /dev/iommu ioctl rules (drivers/iommu/iommufd/{main,ioas,io_pagetable,hw_pagetable,vfio_compat}.c, 6.12.y): the
 * shared command decoding, each IOAS command's checks in kernel order, IOVA allocation and alignment, reserved and
 * allowed ranges, IOMMU_DESTROY and refcounts, OPTION, HWPT_ALLOC, VFIO_IOAS and the VFIO compatibility numbers.
 */
import {
  codec,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_VTD_S1,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_OPTION_RLIMIT_MODE,
  IOMMU_VFIO_IOAS_CLEAR,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
  systemConstants,
  VFIO_API_VERSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_NOIOMMU_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
} from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import type { SimProcessBackend } from '../../src/index.js';
import { ioasAreas, iommufdObjects } from '../../src/iommufd/selftest.js';
import { mmapHuge } from '../../src/testing/index.js';
import { expectErrno } from '../core/helpers.js';
import {
  attach,
  attachRaw,
  bindCdev,
  cmd,
  decode,
  destroy,
  detach,
  digest,
  E1000_CDEV,
  expectBaseline,
  FIXED,
  fresh,
  invariants,
  ioasAlloc,
  ioasMap,
  ioasMapRaw,
  ioasUnmap,
  ioasUnmapRaw,
  iovaRanges,
  nr,
  PAGE,
  RW,
  U64_MAX,
} from './helpers.js';

function option(p: SimProcessBackend, ictx: number, value: Record<string, unknown>): bigint {
  const b = cmd(p, 'iommu_option', value);
  expect(p.ioctl(ictx, nr(p, 'IOMMU_OPTION'), b)).toBe(0);
  return decode(p, 'iommu_option', b).val64;
}

function optionRaw(p: SimProcessBackend, ictx: number, value: Record<string, unknown>): number {
  return p.ioctl(ictx, nr(p, 'IOMMU_OPTION'), cmd(p, 'iommu_option', value));
}

function vfioIoas(p: SimProcessBackend, ictx: number, op: number, ioasId = 0): number {
  const b = cmd(p, 'iommu_vfio_ioas', { op, ioasId });
  p.ioctl(ictx, nr(p, 'IOMMU_VFIO_IOAS'), b);
  return decode(p, 'iommu_vfio_ioas', b).ioasId;
}

function allow(p: SimProcessBackend, ictx: number, ioasId: number, ranges: [bigint, bigint][]): number {
  const r = codec('iommu_iova_range', p.arch);
  const buf = p.mmap({ length: 4096 });
  ranges.forEach(([start, last], i) => {
    buf.bytes.set(r.encode({ start, last }), i * r.size);
  });
  try {
    return p.ioctl(
      ictx,
      nr(p, 'IOMMU_IOAS_ALLOW_IOVAS'),
      cmd(p, 'iommu_ioas_allow_iovas', { ioasId, numIovas: ranges.length, allowedIovas: buf.address }),
    );
  } finally {
    p.munmap(buf);
  }
}

function hwptAlloc(p: SimProcessBackend, ictx: number, value: Record<string, unknown>): number {
  const b = cmd(p, 'iommu_hwpt_alloc', value);
  expect(p.ioctl(ictx, nr(p, 'IOMMU_HWPT_ALLOC'), b)).toBe(0);
  return decode(p, 'iommu_hwpt_alloc', b).outHwptId;
}

describe('iommufd_fops_ioctl: the decoding every IOMMU_* command shares', () => {
  it('size unreadable → EFAULT; size below the last mandatory member → EINVAL; a longer struct must end in zeros (E2BIG)', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const before = digest(f.kernel);
    // get_user(size): fewer than 4 bytes, or no pointer at all.
    expectErrno('EFAULT', () => p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), new Uint8Array(3)));
    expectErrno('EFAULT', () => p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC')));
    expectErrno('EFAULT', () => p.ioctl(ictx, nr(p, 'IOMMU_DESTROY')));
    // size < offsetofend(struct, last member): EINVAL before anything else is read.
    const c = codec('iommu_ioas_alloc', p.arch);
    expectErrno('EINVAL', () =>
      p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), cmd(p, 'iommu_ioas_alloc', { size: c.size - 1 })),
    );
    expectErrno('EINVAL', () => p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), cmd(p, 'iommu_ioas_alloc', { size: 0 })));
    // size claims more than the caller's buffer: the zero check of the tail faults.
    expectErrno('EFAULT', () =>
      p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), cmd(p, 'iommu_ioas_alloc', { size: c.size + 8 })),
    );
    // A longer struct with a non-zero tail: E2BIG; with a zero tail it is accepted (only sizeof is read).
    const long = new Uint8Array(c.size + 8);
    long.set(cmd(p, 'iommu_ioas_alloc', { size: c.size + 8 }));
    long[c.size + 5] = 1;
    expectErrno('E2BIG', () => p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), long));
    expect(digest(f.kernel)).toBe(before);
    long[c.size + 5] = 0;
    expect(p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), long)).toBe(0);
    expect(decode(p, 'iommu_ioas_alloc', long).outIoasId).toBe(1);
    // E2BIG comes before the command's own checks (flags here).
    long[c.size + 5] = 1;
    long.set(cmd(p, 'iommu_ioas_alloc', { size: c.size + 8, flags: 1 }));
    expectErrno('E2BIG', () => p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), long));
    // HWPT_ALLOC's mandatory part ends at __reserved (24 of 48 bytes): the rest reads as 0, the answer is cut to size.
    const [d, devid] = bindCdev(p, ictx);
    const short = cmd(p, 'iommu_hwpt_alloc', { size: 24, devId: devid, ptId: 1 }).slice(0, 24);
    expect(p.ioctl(ictx, nr(p, 'IOMMU_HWPT_ALLOC'), short)).toBe(0);
    expect(new DataView(short.buffer).getUint32(codec('iommu_hwpt_alloc', p.arch).offsetOf('out_hwpt_id'), true)).toBe(
      3,
    );
    expect(destroy(p, ictx, 3)).toBe(0);
    p.close(d);
    p.close(ictx);
    expectBaseline(f);
  });

  it('numbers past the 6.12 table go to the VFIO compatibility layer (ENOTTY without reading the argument); in-table commands not simulated answer ENOTTY after the shared checks', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    // 7.x commands (IOAS_MAP_FILE 0x8f, VIOMMU_ALLOC, IOAS_CHANGE_PROCESS…) are outside 6.12's iommufd_ioctl_ops[].
    for (const name of ['IOMMU_IOAS_MAP_FILE', 'IOMMU_VIOMMU_ALLOC', 'IOMMU_IOAS_CHANGE_PROCESS'] as const)
      expectErrno('ENOTTY', () => p.ioctl(ictx, nr(p, name)));
    // In the table but not carried out by the simulation: the shared checks still run first.
    expectErrno('EFAULT', () => p.ioctl(ictx, nr(p, 'IOMMU_GET_HW_INFO')));
    expectErrno('EINVAL', () => p.ioctl(ictx, nr(p, 'IOMMU_GET_HW_INFO'), cmd(p, 'iommu_hw_info', { size: 8 })));
    expectErrno('ENOTTY', () => p.ioctl(ictx, nr(p, 'IOMMU_GET_HW_INFO'), cmd(p, 'iommu_hw_info')));
    // No mmap on a 6.12 iommufd.
    expectErrno('ENODEV', () => p.mmap({ fd: ictx, length: 4096 }));
    p.close(ictx);
    expectBaseline(f);
  });
});

describe('when copying the answer back faults (the argument in read-only memory)', () => {
  it('IOAS_ALLOC aborts its object; IOAS_MAP keeps the mapping; ATTACH_IOMMUFD_PT detaches the device', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const ro = p.mmap({ length: 4096, prot: systemConstants(p.arch).PROT_READ });
    const put = (bytes: Uint8Array) => {
      ro.bytes.fill(0);
      ro.bytes.set(bytes);
    };
    // The command is read from the process's memory at the address passed by value.
    put(cmd(p, 'iommu_ioas_alloc'));
    const before = digest(f.kernel);
    expectErrno('EFAULT', () => p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), ro.address));
    expect(digest(f.kernel)).toBe(before);
    const ioas = ioasAlloc(p, ictx);
    expect(ioas).toBe(1);
    const buf = p.mmap({ length: 4096 });
    put(cmd(p, 'iommu_ioas_map', { flags: RW, ioasId: ioas, userVa: buf.address, length: PAGE }));
    expectErrno('EFAULT', () => p.ioctl(ictx, nr(p, 'IOMMU_IOAS_MAP'), ro.address));
    expect(ioasAreas(p, ictx, ioas).map((a) => a.iova)).toEqual([0x1000n]);
    const [d] = bindCdev(p, ictx);
    const hwpt = attach(p, d, ioas);
    const a = codec('vfio_device_attach_iommufd_pt', p.arch);
    put(a.encode({ argsz: a.size, ptId: ioas }));
    expectErrno('EFAULT', () => p.ioctl(d, nr(p, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT'), ro.address));
    // The re-attach (a replace onto the same HWPT) happened, then vfio_df_ioctl_attach_pt detached: the auto domain is gone.
    expect(iommufdObjects(p, ictx).map(([id]) => id)).not.toContain(hwpt);
    expect(invariants(f.kernel)).toEqual([]);
    p.close(d);
    p.close(ictx);
    p.munmap(buf);
    p.munmap(ro);
    expectBaseline(f);
  });
});

describe('IOMMU_IOAS_ALLOC and IOMMU_DESTROY', () => {
  it('flags → EOPNOTSUPP; IDs lowest free first; DESTROY: unknown → ENOENT, referenced → EBUSY, then freed', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    expectErrno('EOPNOTSUPP', () => p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), cmd(p, 'iommu_ioas_alloc', { flags: 1 })));
    const [a, b] = [ioasAlloc(p, ictx), ioasAlloc(p, ictx)];
    expect([a, b]).toEqual([1, 2]);
    expectErrno('ENOENT', () => destroy(p, ictx, 0));
    expectErrno('ENOENT', () => destroy(p, ictx, 9));
    expect(destroy(p, ictx, a)).toBe(0);
    expectErrno('ENOENT', () => destroy(p, ictx, a));
    // The freed ID is reused first.
    expect(ioasAlloc(p, ictx)).toBe(1);
    const [d, devid] = bindCdev(p, ictx);
    expect(devid).toBe(3);
    // The bound driver holds its device object: DESTROY(device) is EBUSY for as long as it is bound.
    expectErrno('EBUSY', () => destroy(p, ictx, devid));
    const hwpt = attach(p, d, b);
    expect(hwpt).toBe(4);
    // An attached device holds its HWPT, the HWPT holds its IOAS.
    const before = digest(f.kernel);
    expectErrno('EBUSY', () => destroy(p, ictx, hwpt));
    expectErrno('EBUSY', () => destroy(p, ictx, b));
    expect(digest(f.kernel)).toBe(before);
    // Detaching the last device destroys the auto domain: its ID is free, the IOAS can go.
    expect(detach(p, d)).toBe(0);
    expect(iommufdObjects(p, ictx)).toEqual([
      [1, 'ioas'],
      [2, 'ioas'],
      [3, 'device'],
    ]);
    expectErrno('ENOENT', () => destroy(p, ictx, hwpt));
    expect(destroy(p, ictx, b)).toBe(0);
    p.close(d);
    p.close(ictx);
    expectBaseline(f);
  });
});

describe('IOMMU_IOAS_MAP', () => {
  it('checks in kernel order: EOPNOTSUPP (flags, __reserved) → EOVERFLOW → EINVAL (no R/W) → ENOENT (ID, type) → EINVAL (length 0) → EOVERFLOW (VA wrap)', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const [d, devid] = bindCdev(p, ictx);
    const buf = p.mmap({ length: 4096 });
    const map = (a: Record<string, unknown>) =>
      ioasMapRaw(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGE, ...a } as never);
    const before = digest(f.kernel);
    expectErrno('EOPNOTSUPP', () => map({ flags: 8 | RW, iova: U64_MAX, ioasId: 99 }));
    expectErrno('EOPNOTSUPP', () => map({ reserved: 1, iova: U64_MAX, flags: 0 }));
    expectErrno('EOVERFLOW', () => map({ iova: U64_MAX, flags: FIXED, ioasId: 99 }));
    expectErrno('EOVERFLOW', () => map({ length: U64_MAX, flags: 0, ioasId: 99 }));
    expectErrno('EINVAL', () => map({ flags: FIXED, ioasId: 99 }));
    expectErrno('ENOENT', () => map({ ioasId: 99, length: 0n }));
    expectErrno('ENOENT', () => map({ ioasId: devid }));
    expectErrno('ENOENT', () => map({ ioasId: 0 }));
    expectErrno('EINVAL', () => map({ length: 0n }));
    expectErrno('EOVERFLOW', () => map({ userVa: U64_MAX - 0xfffn, length: 0x2000n }));
    expect(digest(f.kernel)).toBe(before);
    p.close(d);
    p.close(ictx);
    p.munmap(buf);
    expectBaseline(f);
  });

  it('the kernel picks the IOVA: lowest fitting hole from PAGE_SIZE, aligned to the length and the VA, keeping the offset in the page; never 0', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const buf = p.mmap({ length: 4 * 4096 });
    expect(ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGE })).toBe(0x1000n);
    expect(ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGE })).toBe(0x2000n);
    // 3 pages from a 2 MiB-aligned VA: alignment roundup_pow_of_two(0x3000) = 0x4000, so 0x3000 is skipped.
    const huge = mmapHuge(p, 2 << 20, 2 << 20);
    expect(ioasMap(p, ictx, { ioasId: ioas, userVa: huge.address, length: 3n * PAGE })).toBe(0x4000n);
    // With no domain the IOAS is byte-granular: a VA 0x10 into a page gives 0x10 alignment and the same offset,
    // in the lowest hole (0x3000, left by the 0x4000 alignment above).
    expect(ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address + 0x10n, length: 0x20n })).toBe(0x3010n);
    // Lengths the allocator cannot round up: EOVERFLOW (FIXED would not care).
    expectErrno('EOVERFLOW', () => ioasMapRaw(p, ictx, { ioasId: ioas, userVa: 0n, length: 1n << 63n }));
    // The allowed ranges bound the choice (and only the choice).
    expect(allow(p, ictx, ioas, [[0x10000000n, 0x10003fffn]])).toBe(0);
    expect(ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: 2n * PAGE })).toBe(0x10000000n);
    expectErrno('ENOSPC', () => ioasMapRaw(p, ictx, { ioasId: ioas, userVa: buf.address, length: 4n * PAGE }));
    expect(ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGE, iova: 0x20000000n })).toBe(0x20000000n);
    expect(invariants(f.kernel)).toEqual([]);
    p.close(ictx);
    p.munmap(buf);
    p.munmap(huge);
    expectBaseline(f);
  });

  it('an attached domain imposes PAGE_SIZE alignment and reserves the MSI window and everything past the aperture', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const fresh1 = iovaRanges(p, ictx, ioas);
    expect(fresh1).toEqual({ ranges: [{ start: 0n, last: U64_MAX }], num: 1, alignment: 1n });
    const [d] = bindCdev(p, ictx);
    attach(p, d, ioas);
    expect(iovaRanges(p, ictx, ioas)).toEqual({
      ranges: [
        { start: 0n, last: 0xfedfffffn },
        { start: 0xfef00000n, last: 0x7fffffffffn },
      ],
      num: 2,
      alignment: PAGE,
    });
    const buf = p.mmap({ length: 2 * 4096 });
    const before = digest(f.kernel);
    const map = (a: Record<string, unknown>) =>
      ioasMapRaw(p, ictx, {
        ioasId: ioas,
        userVa: buf.address,
        length: PAGE,
        iova: 0x100000n,
        flags: RW | FIXED,
        ...a,
      } as never);
    // iopt_check_iova / iopt_alloc_area_pages / iopt_insert_area
    expectErrno('EINVAL', () => map({ iova: 0x100800n }));
    expectErrno('EINVAL', () => map({ length: 0x800n }));
    expectErrno('EINVAL', () => map({ userVa: buf.address + 0x800n }));
    expectErrno('EINVAL', () => map({ iova: 0xfee00000n }));
    expectErrno('EINVAL', () => map({ iova: 0xfedff000n, length: 2n * PAGE }));
    expectErrno('EINVAL', () => map({ iova: 0x8000000000n }));
    expectErrno('EOVERFLOW', () => map({ iova: U64_MAX - 0xfffn, length: 2n * PAGE }));
    // Without FIXED_IOVA a VA aligned below PAGE_SIZE cannot be placed.
    expectErrno('EINVAL', () => map({ userVa: buf.address + 0x800n, flags: RW }));
    expect(digest(f.kernel)).toBe(before);
    // An allowed range over a reserved one: EADDRINUSE, the old set stays.
    expectErrno('EADDRINUSE', () => allow(p, ictx, ioas, [[0xfe000000n, 0xfeffffffn]]));
    expect(digest(f.kernel)).toBe(before);
    // Detaching gives the reservations back.
    expect(detach(p, d)).toBe(0);
    expect(iovaRanges(p, ictx, ioas)).toEqual(fresh1);
    expect(map({ iova: 0xfee00000n })).toBe(0);
    // … and now the device cannot attach: its MSI window would cover a mapping.
    const stuck = digest(f.kernel);
    expectErrno('EADDRINUSE', () => attachRaw(p, d, ioas));
    expect(digest(f.kernel)).toBe(stuck);
    expect(ioasUnmap(p, ictx, ioas, 0xfee00000n, PAGE)).toBe(PAGE);
    // A mapping past the aperture, or one the domain's alignment cannot take, also blocks the attach.
    expect(map({ iova: 0x8000000000n })).toBe(0);
    expectErrno('EADDRINUSE', () => attachRaw(p, d, ioas));
    expect(ioasUnmap(p, ictx, ioas, 0n, U64_MAX)).toBe(PAGE);
    expect(map({ iova: 0x100010n, length: 0x10n, userVa: buf.address + 0x10n })).toBe(0);
    expectErrno('EADDRINUSE', () => attachRaw(p, d, ioas));
    expect(ioasUnmap(p, ictx, ioas, 0n, U64_MAX)).toBe(0x10n);
    // An allowed range over the MSI window blocks the device's reservation the same way.
    expect(allow(p, ictx, ioas, [[0xfe000000n, 0xfeffffffn]])).toBe(0);
    expectErrno('EADDRINUSE', () => attachRaw(p, d, ioas));
    expect(allow(p, ictx, ioas, [])).toBe(0);
    expect(attach(p, d, ioas)).toBeGreaterThan(0);
    expect(invariants(f.kernel)).toEqual([]);
    p.close(d);
    p.close(ictx);
    p.munmap(buf);
    expectBaseline(f);
  });
});

describe('IOMMU_IOAS_UNMAP', () => {
  it('ENOENT for the IOAS first, then EOVERFLOW / EINVAL; whole areas only, lowest first: a straddled area stops the walk after the ones before it are gone', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const buf = p.mmap({ length: 4 * 4096 });
    for (const iova of [0x10000n, 0x11000n, 0x13000n])
      ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGE, iova });
    ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: 2n * PAGE, iova: 0x20000n });
    const before = digest(f.kernel);
    expectErrno('ENOENT', () => ioasUnmapRaw(p, ictx, 99, U64_MAX, U64_MAX));
    expectErrno('EOVERFLOW', () => ioasUnmapRaw(p, ictx, ioas, U64_MAX, PAGE));
    expectErrno('EOVERFLOW', () => ioasUnmapRaw(p, ictx, ioas, 0x1000n, U64_MAX));
    expectErrno('EOVERFLOW', () => ioasUnmapRaw(p, ictx, ioas, 0xffff_ffff_ffff_0000n, 0x20000n));
    expectErrno('EINVAL', () => ioasUnmapRaw(p, ictx, ioas, 0x10000n, 0n));
    // Straddling the first area found: nothing unmapped.
    expectErrno('ENOENT', () => ioasUnmapRaw(p, ictx, ioas, 0x21000n, 0x4000n));
    expect(digest(f.kernel)).toBe(before);
    // Several whole areas with holes between them: all gone, their bytes summed.
    expect(ioasUnmap(p, ictx, ioas, 0x10000n, 0x4000n)).toBe(3n * PAGE);
    // Whole areas then a straddled one: ENOENT, and the whole ones before it are already unmapped.
    for (const iova of [0x10000n, 0x11000n])
      ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGE, iova });
    expectErrno('ENOENT', () => ioasUnmapRaw(p, ictx, ioas, 0x10000n, 0x11000n));
    expect(ioasAreas(p, ictx, ioas).map((a) => a.iova)).toEqual([0x20000n]);
    expect(ioasUnmap(p, ictx, ioas, 0n, U64_MAX)).toBe(2n * PAGE);
    p.close(ictx);
    p.munmap(buf);
    expectBaseline(f);
  });
});

describe('IOMMU_IOAS_IOVA_RANGES and IOMMU_IOAS_ALLOW_IOVAS', () => {
  it('IOVA_RANGES: too small an array → EMSGSIZE with num_iovas and what fits written; __reserved → EOPNOTSUPP; bad array → EFAULT', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const [d] = bindCdev(p, ictx);
    attach(p, d, ioas);
    const r = codec('iommu_iova_range', p.arch);
    const buf = p.mmap({ length: 4096 });
    const ask = (value: Record<string, unknown>) => {
      const b = cmd(p, 'iommu_ioas_iova_ranges', { ioasId: ioas, allowedIovas: buf.address, ...value });
      let errno = '';
      try {
        p.ioctl(ictx, nr(p, 'IOMMU_IOAS_IOVA_RANGES'), b);
      } catch (e) {
        errno = (e as { code: string }).code;
      }
      return { errno, out: decode(p, 'iommu_ioas_iova_ranges', b) };
    };
    const one = ask({ numIovas: 1 });
    expect(one.errno).toBe('EMSGSIZE');
    expect(one.out.numIovas).toBe(2);
    expect(one.out.outIovaAlignment).toBe(PAGE);
    expect(r.decode(buf.bytes)).toEqual({ start: 0n, last: 0xfedfffffn });
    expect(buf.bytes.subarray(r.size, 2 * r.size).every((x) => x === 0)).toBe(true);
    // num_iovas 0 writes no range, so even a NULL array is fine.
    expect(ask({ numIovas: 0, allowedIovas: 0n })).toMatchObject({ errno: 'EMSGSIZE', out: { numIovas: 2 } });
    expect(ask({ numIovas: 2, allowedIovas: 0n }).errno).toBe('EFAULT');
    expect(ask({ numIovas: 2, reserved: 1 }).errno).toBe('EOPNOTSUPP');
    expect(ask({ numIovas: 2, ioasId: 99 }).errno).toBe('ENOENT');
    expect(ask({ numIovas: 3 })).toMatchObject({ errno: '', out: { numIovas: 2 } });
    p.munmap(buf);
    p.close(d);
    p.close(ictx);
    expectBaseline(f);
  });

  it('ALLOW_IOVAS: start ≥ last or overlapping ranges → EINVAL, unreadable → EFAULT, __reserved → EOPNOTSUPP; all or nothing', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    expect(allow(p, ictx, ioas, [[0x10000n, 0x1ffffn]])).toBe(0);
    const before = digest(f.kernel);
    expectErrno('EINVAL', () => allow(p, ictx, ioas, [[0x5000n, 0x5000n]]));
    expectErrno('EINVAL', () => allow(p, ictx, ioas, [[0x6000n, 0x5000n]]));
    expectErrno('EINVAL', () =>
      allow(p, ictx, ioas, [
        [0x40000n, 0x4ffffn],
        [0x48000n, 0x58000n],
      ]),
    );
    expectErrno('ENOENT', () => allow(p, ictx, 99, [[0x40000n, 0x4ffffn]]));
    expectErrno('EFAULT', () =>
      p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOW_IOVAS'), cmd(p, 'iommu_ioas_allow_iovas', { ioasId: ioas, numIovas: 1 })),
    );
    expectErrno('EOPNOTSUPP', () =>
      p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOW_IOVAS'), cmd(p, 'iommu_ioas_allow_iovas', { ioasId: ioas, reserved: 1 })),
    );
    expect(digest(f.kernel)).toBe(before);
    // IOVA_RANGES reports the reserved holes, not the allowed set.
    expect(iovaRanges(p, ictx, ioas).ranges).toEqual([{ start: 0n, last: U64_MAX }]);
    p.close(ictx);
    expectBaseline(f);
  });
});

describe('IOMMU_IOAS_COPY', () => {
  it('maps the same pages at another IOVA or IOAS; source ranges must be covered exactly; a writable copy of a read-only map → EPERM', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const [a, b] = [ioasAlloc(p, ictx), ioasAlloc(p, ictx)];
    const buf = p.mmap({ length: 4 * 4096 });
    ioasMap(p, ictx, { ioasId: a, userVa: buf.address, length: 2n * PAGE, iova: 0x10000n });
    ioasMap(p, ictx, { ioasId: a, userVa: buf.address + 2n * PAGE, length: PAGE, iova: 0x12000n });
    ioasMap(p, ictx, {
      ioasId: a,
      userVa: buf.address,
      length: PAGE,
      iova: 0x30000n,
      flags: IOMMU_IOAS_MAP_READABLE | FIXED,
    });
    const copy = (value: Record<string, unknown>) => {
      const c = cmd(p, 'iommu_ioas_copy', { flags: RW, dstIoasId: b, srcIoasId: a, ...value });
      p.ioctl(ictx, nr(p, 'IOMMU_IOAS_COPY'), c);
      return decode(p, 'iommu_ioas_copy', c).dstIova;
    };
    const before = digest(f.kernel);
    expectErrno('EOPNOTSUPP', () => copy({ flags: 8, length: U64_MAX }));
    expectErrno('EOVERFLOW', () => copy({ length: U64_MAX, srcIoasId: 99 }));
    expectErrno('EOVERFLOW', () => copy({ length: PAGE, srcIova: U64_MAX }));
    expectErrno('EINVAL', () => copy({ flags: FIXED, srcIoasId: 99, length: PAGE }));
    expectErrno('ENOENT', () => copy({ srcIoasId: 99, length: PAGE }));
    expectErrno('EINVAL', () => copy({ srcIova: 0x10000n, length: 0n }));
    // Not covered exactly by areas in a row: a gap, or starting outside any.
    expectErrno('ENOENT', () => copy({ srcIova: 0x10000n, length: 0x4000n }));
    expectErrno('ENOENT', () => copy({ srcIova: 0xf000n, length: 0x2000n }));
    expectErrno('ENOENT', () => copy({ srcIova: 0x10000n, length: PAGE, dstIoasId: 99 }));
    expectErrno('EPERM', () => copy({ srcIova: 0x30000n, length: PAGE }));
    expect(digest(f.kernel)).toBe(before);
    // Across two areas, in the middle of the first, into another IOAS: one new area per source area.
    expect(copy({ srcIova: 0x11000n, length: 0x2000n, dstIova: 0x50000n, flags: RW | FIXED })).toBe(0x50000n);
    expect(ioasAreas(p, ictx, b).map((x) => [x.iova, x.length, x.userVa])).toEqual([
      [0x50000n, PAGE, buf.address + PAGE],
      [0x51000n, PAGE, buf.address + 2n * PAGE],
    ]);
    // Read-only copy of the read-only map, at a kernel-chosen IOVA of the same IOAS.
    expect(copy({ srcIova: 0x30000n, length: PAGE, dstIoasId: a, flags: IOMMU_IOAS_MAP_READABLE })).toBe(0x1000n);
    expect(invariants(f.kernel)).toEqual([]);
    // The copies outlive the source mappings.
    expect(ioasUnmap(p, ictx, a, 0n, U64_MAX)).toBe(5n * PAGE);
    expect(ioasAreas(p, ictx, b)).toHaveLength(2);
    p.close(ictx);
    p.munmap(buf);
    expectBaseline(f);
  });
});

describe('IOMMU_OPTION', () => {
  it('RLIMIT_MODE: GET 0; SET needs CAP_SYS_RESOURCE (EPERM) and an empty ctx (EBUSY); HUGE_PAGES per IOAS; unknown → EOPNOTSUPP', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const get = { optionId: IOMMU_OPTION_RLIMIT_MODE, op: IOMMU_OPTION_OP_GET };
    expect(option(p, ictx, get)).toBe(0n);
    expectErrno('EOPNOTSUPP', () => optionRaw(p, ictx, { ...get, objectId: 1 }));
    expectErrno('EOPNOTSUPP', () => optionRaw(p, ictx, { ...get, reserved: 1 }));
    expectErrno('EOPNOTSUPP', () => optionRaw(p, ictx, { ...get, op: 7 }));
    expectErrno('EOPNOTSUPP', () => optionRaw(p, ictx, { ...get, optionId: 9 }));
    expectErrno('EPERM', () =>
      optionRaw(p, ictx, { optionId: IOMMU_OPTION_RLIMIT_MODE, op: IOMMU_OPTION_OP_SET, val64: 1n }),
    );
    // root: an empty ctx takes 0 or 1.
    const r = f.kernel.createProcess({ capIpcLock: true });
    const rctx = r.open('/dev/iommu');
    const set = (val64: bigint) =>
      optionRaw(r, rctx, { optionId: IOMMU_OPTION_RLIMIT_MODE, op: IOMMU_OPTION_OP_SET, val64 });
    expectErrno('EINVAL', () => set(2n));
    expect(set(1n)).toBe(0);
    expect(option(r, rctx, get)).toBe(1n);
    const ioas = ioasAlloc(r, rctx);
    expectErrno('EBUSY', () => set(0n));
    // HUGE_PAGES: object_id is the IOAS.
    const huge = { optionId: IOMMU_OPTION_HUGE_PAGES, objectId: ioas };
    expectErrno('ENOENT', () => optionRaw(r, rctx, { ...huge, objectId: 77, op: IOMMU_OPTION_OP_GET }));
    expect(option(r, rctx, { ...huge, op: IOMMU_OPTION_OP_GET })).toBe(1n);
    expectErrno('EINVAL', () => optionRaw(r, rctx, { ...huge, op: IOMMU_OPTION_OP_SET, val64: 2n }));
    expect(option(r, rctx, { ...huge, op: IOMMU_OPTION_OP_SET, val64: 0n })).toBe(0n);
    expect(option(r, rctx, { ...huge, op: IOMMU_OPTION_OP_GET })).toBe(0n);
    // Large pages off: PAGE_SIZE alignment even without a domain.
    expect(iovaRanges(r, rctx, ioas).alignment).toBe(PAGE);
    // SET copies val64 back unchanged.
    expect(option(r, rctx, { ...huge, op: IOMMU_OPTION_OP_SET, val64: 1n })).toBe(1n);
    expect(iovaRanges(r, rctx, ioas).alignment).toBe(1n);
    // With a domain holding mappings large pages cannot be turned off.
    const [d] = bindCdev(r, rctx);
    attach(r, d, ioas);
    const buf = r.mmap({ length: 4096 });
    ioasMap(r, rctx, { ioasId: ioas, userVa: buf.address, length: PAGE });
    expectErrno('EINVAL', () => optionRaw(r, rctx, { ...huge, op: IOMMU_OPTION_OP_SET, val64: 0n }));
    r.exit();
    p.close(ictx);
    expectBaseline(f);
  });
});

describe('IOMMU_HWPT_ALLOC and attaching to a HWPT', () => {
  it('a kernel-managed HWPT of an IOAS: lives until DESTROY, EBUSY while attached; unsupported flags → EOPNOTSUPP; pt_id not found → EINVAL', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const [d, devid] = bindCdev(p, ictx);
    const alloc = (value: Record<string, unknown>) =>
      p.ioctl(ictx, nr(p, 'IOMMU_HWPT_ALLOC'), cmd(p, 'iommu_hwpt_alloc', { devId: devid, ptId: ioas, ...value }));
    const before = digest(f.kernel);
    expectErrno('EOPNOTSUPP', () => alloc({ reserved: 1, devId: 99 }));
    expectErrno('EINVAL', () => alloc({ dataLen: 8, devId: 99 }));
    expectErrno('EINVAL', () => alloc({ dataType: IOMMU_HWPT_DATA_VTD_S1, devId: 99 }));
    expectErrno('ENOENT', () => alloc({ devId: 99 }));
    expectErrno('ENOENT', () => alloc({ devId: ioas }));
    expectErrno('EINVAL', () => alloc({ ptId: 99 }));
    expectErrno('EINVAL', () => alloc({ ptId: devid }));
    expectErrno('EOPNOTSUPP', () => alloc({ flags: 0x100 }));
    expectErrno('EOPNOTSUPP', () => alloc({ flags: IOMMU_HWPT_ALLOC_DIRTY_TRACKING }));
    expectErrno('EOPNOTSUPP', () => alloc({ flags: IOMMU_HWPT_ALLOC_NEST_PARENT }));
    expectErrno('EOPNOTSUPP', () => alloc({ dataType: IOMMU_HWPT_DATA_VTD_S1, dataLen: 8 }));
    expectErrno('ENOENT', () => alloc({ flags: IOMMU_HWPT_FAULT_ID_VALID, faultId: 9 }));
    expect(digest(f.kernel)).toBe(before);
    const hwpt = hwptAlloc(p, ictx, { devId: devid, ptId: ioas });
    expect(hwpt).toBe(3);
    // Nesting on it is not possible here.
    expectErrno('EOPNOTSUPP', () => alloc({ ptId: hwpt }));
    expectErrno('EINVAL', () => alloc({ ptId: hwpt, dataType: IOMMU_HWPT_DATA_VTD_S1, dataLen: 24 }));
    // Attaching to the IOAS does not pick a manual HWPT: a new auto domain appears.
    expect(attach(p, d, ioas)).toBe(4);
    // Re-attaching is a replace: to the manual HWPT (the auto one dies), and to it again (no change).
    expect(attach(p, d, hwpt)).toBe(hwpt);
    expectErrno('ENOENT', () => destroy(p, ictx, 4));
    expect(attach(p, d, hwpt)).toBe(hwpt);
    expectErrno('EBUSY', () => destroy(p, ictx, hwpt));
    expectErrno('EBUSY', () => destroy(p, ictx, ioas));
    expect(detach(p, d)).toBe(0);
    // A manual HWPT stays after its device leaves; the IOAS it holds stays busy.
    expectErrno('EBUSY', () => destroy(p, ictx, ioas));
    expect(destroy(p, ictx, hwpt)).toBe(0);
    expect(destroy(p, ictx, ioas)).toBe(0);
    p.close(d);
    p.close(ictx);
    expectBaseline(f);
  });

  it('ATTACH: unknown → ENOENT, a device ID → EINVAL; two devices of an IOAS share its auto domain, which dies with the last; replace moves a device between IOASes', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const [a, b] = [ioasAlloc(p, ictx), ioasAlloc(p, ictx)];
    const [d1, dev1] = bindCdev(p, ictx);
    const [d2] = bindCdev(p, ictx, E1000_CDEV);
    const before = digest(f.kernel);
    expectErrno('ENOENT', () => attachRaw(p, d1, 77));
    expectErrno('EINVAL', () => attachRaw(p, d1, dev1));
    expect(digest(f.kernel)).toBe(before);
    const h = attach(p, d1, a);
    expect(attach(p, d2, a)).toBe(h);
    expect(detach(p, d1)).toBe(0);
    expect(iommufdObjects(p, ictx).map(([id]) => id)).toContain(h);
    // Replace: d2 moves to b; a's auto domain loses its last device and goes.
    const h2 = attach(p, d2, b);
    expect(h2).not.toBe(h);
    expect(iommufdObjects(p, ictx).map(([id]) => id)).not.toContain(h);
    expect(detach(p, d2)).toBe(0);
    expect(detach(p, d2)).toBe(0);
    expect(iommufdObjects(p, ictx)).toHaveLength(4);
    p.close(d1);
    p.close(d2);
    p.close(ictx);
    expectBaseline(f);
  });
});

describe('VFIO numbers on /dev/iommu (vfio_compat.c) and IOMMU_VFIO_IOAS', () => {
  it('without a compat IOAS: API version and extensions answer, the rest → ENODEV; DIRTY_PAGES → ENOTTY', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    expect(p.ioctl(ictx, nr(p, 'VFIO_GET_API_VERSION'))).toBe(VFIO_API_VERSION);
    const ext = (x: number) => p.ioctl(ictx, nr(p, 'VFIO_CHECK_EXTENSION'), x);
    expect([VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL, VFIO_NOIOMMU_IOMMU].map(ext)).toEqual([1, 1, 1, 1]);
    expect(ext(VFIO_UPDATE_VADDR)).toBe(0);
    expect(ext(6)).toBe(0);
    expectErrno('ENODEV', () => ext(VFIO_DMA_CC_IOMMU));
    expectErrno('EINVAL', () => p.ioctl(ictx, nr(p, 'VFIO_SET_IOMMU'), 7));
    expectErrno('ENODEV', () => p.ioctl(ictx, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU));
    const map = codec('vfio_iommu_type1_dma_map', p.arch);
    expectErrno('ENODEV', () => p.ioctl(ictx, nr(p, 'VFIO_IOMMU_MAP_DMA'), map.encode({ argsz: map.size, flags: 3 })));
    expectErrno('EINVAL', () => p.ioctl(ictx, nr(p, 'VFIO_IOMMU_MAP_DMA'), map.encode({ argsz: map.size, flags: 4 })));
    const info = codec('vfio_iommu_type1_info', p.arch);
    expectErrno('ENODEV', () => p.ioctl(ictx, nr(p, 'VFIO_IOMMU_GET_INFO'), info.encode({ argsz: info.size })));
    expectErrno('ENOTTY', () => p.ioctl(ictx, nr(p, 'VFIO_IOMMU_DIRTY_PAGES'), new Uint8Array(16)));
    // IOMMU_VFIO_IOAS: GET without one → ENODEV; SET of a non-IOAS → ENOENT; __reserved, op → EOPNOTSUPP.
    expectErrno('ENODEV', () => vfioIoas(p, ictx, IOMMU_VFIO_IOAS_GET));
    expectErrno('ENOENT', () => vfioIoas(p, ictx, IOMMU_VFIO_IOAS_SET, 5));
    expectErrno('EOPNOTSUPP', () => vfioIoas(p, ictx, 3));
    expectErrno('EOPNOTSUPP', () =>
      p.ioctl(ictx, nr(p, 'IOMMU_VFIO_IOAS'), cmd(p, 'iommu_vfio_ioas', { op: IOMMU_VFIO_IOAS_CLEAR, reserved: 1 })),
    );
    p.close(ictx);
    expectBaseline(f);
  });

  it('with a compat IOAS: type1-style MAP/UNMAP/GET_INFO on it; empty UNMAP is 0 bytes; destroying the IOAS clears it', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    vfioIoas(p, ictx, IOMMU_VFIO_IOAS_SET, ioas);
    expect(vfioIoas(p, ictx, IOMMU_VFIO_IOAS_GET)).toBe(ioas);
    expect(p.ioctl(ictx, nr(p, 'VFIO_CHECK_EXTENSION'), VFIO_DMA_CC_IOMMU)).toBe(1);
    expect(p.ioctl(ictx, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU)).toBe(0);
    const buf = p.mmap({ length: 4 * 4096 });
    const map = codec('vfio_iommu_type1_dma_map', p.arch);
    const unmap = codec('vfio_iommu_type1_dma_unmap', p.arch);
    const mapDma = (iova: bigint, size: bigint, flags = 3) =>
      p.ioctl(
        ictx,
        nr(p, 'VFIO_IOMMU_MAP_DMA'),
        map.encode({ argsz: map.size, flags, vaddr: buf.address, iova, size }),
      );
    const unmapDma = (iova: bigint, size: bigint, flags = 0) => {
      const b = unmap.encode({ argsz: unmap.size, flags, iova, size });
      p.ioctl(ictx, nr(p, 'VFIO_IOMMU_UNMAP_DMA'), b);
      return unmap.decode(b).size;
    };
    expect(mapDma(0x100000n, 2n * PAGE)).toBe(0);
    expectErrno('EEXIST', () => mapDma(0x101000n, PAGE));
    expect(ioasAreas(p, ictx, ioas)).toHaveLength(1);
    // Nothing there: success and size 0 (type1's answer; IOAS_UNMAP would say ENOENT).
    expect(unmapDma(0x300000n, PAGE)).toBe(0n);
    expectErrno('EINVAL', () => unmapDma(0x300000n, PAGE, 2));
    expectErrno('EINVAL', () => unmapDma(0x1000n, 0n, VFIO_DMA_UNMAP_FLAG_ALL));
    // GET_INFO: page sizes, then DMA_AVAIL (U32_MAX) at 24 and the IOVA ranges packed right after it, at 36.
    const [d] = bindCdev(p, ictx);
    attach(p, d, ioas);
    expect(p.ioctl(ictx, nr(p, 'VFIO_CHECK_EXTENSION'), VFIO_DMA_CC_IOMMU)).toBe(0);
    const info = codec('vfio_iommu_type1_info', p.arch);
    const small = info.encode({ argsz: info.size });
    expect(p.ioctl(ictx, nr(p, 'VFIO_IOMMU_GET_INFO'), small)).toBe(0);
    expect(info.decode(small)).toMatchObject({
      argsz: 24 + 12 + 16 + 2 * 16,
      flags: VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS,
      iovaPgsizes: 0x40201000n,
      capOffset: 0,
    });
    const full = new Uint8Array(24 + 12 + 16 + 2 * 16);
    full.set(info.encode({ argsz: full.length }));
    expect(p.ioctl(ictx, nr(p, 'VFIO_IOMMU_GET_INFO'), full)).toBe(0);
    expect(info.decode(full).capOffset).toBe(24);
    const avail = codec('vfio_iommu_type1_info_dma_avail', p.arch).decode(full.subarray(24));
    expect(avail).toEqual({
      header: { id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1, next: 36 },
      avail: 2 ** 32 - 1,
    });
    const iovas = codec('vfio_iommu_type1_info_cap_iova_range', p.arch).decode(full.subarray(36));
    expect(iovas).toMatchObject({
      header: { id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1, next: 0 },
      nrIovas: 2,
    });
    expect(iovas.iovaRanges).toEqual([
      { start: 0n, end: 0xfedfffffn },
      { start: 0xfef00000n, end: 0x7fffffffffn },
    ]);
    expect(unmapDma(0n, 0n, VFIO_DMA_UNMAP_FLAG_ALL)).toBe(2n * PAGE);
    // SET_IOMMU(TYPE1) disables large pages — refused while a domain holds mappings.
    expect(mapDma(0x100000n, PAGE)).toBe(0);
    expectErrno('EINVAL', () => p.ioctl(ictx, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1_IOMMU));
    expect(detach(p, d)).toBe(0);
    expect(p.ioctl(ictx, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1_IOMMU)).toBe(0);
    // Type1 v1 emulation: unmapping inside a mapping cuts it.
    expect(mapDma(0x200000n, 4n * PAGE)).toBe(0);
    expect(unmapDma(0x201000n, PAGE)).toBe(PAGE);
    expect(ioasAreas(p, ictx, ioas).map((x) => [x.iova, x.length])).toEqual([
      [0x100000n, PAGE],
      [0x200000n, PAGE],
      [0x202000n, 2n * PAGE],
    ]);
    expect(invariants(f.kernel)).toEqual([]);
    // Destroying the compat IOAS forgets it.
    expect(unmapDma(0n, 0n, VFIO_DMA_UNMAP_FLAG_ALL)).toBe(4n * PAGE);
    expect(destroy(p, ictx, ioas)).toBe(0);
    expectErrno('ENODEV', () => vfioIoas(p, ictx, IOMMU_VFIO_IOAS_GET));
    vfioIoas(p, ictx, IOMMU_VFIO_IOAS_SET, ioasAlloc(p, ictx));
    expect(vfioIoas(p, ictx, IOMMU_VFIO_IOAS_CLEAR)).toBe(0);
    expectErrno('ENODEV', () => vfioIoas(p, ictx, IOMMU_VFIO_IOAS_GET));
    p.close(d);
    p.close(ictx);
    p.munmap(buf);
    expectBaseline(f);
  });
});
