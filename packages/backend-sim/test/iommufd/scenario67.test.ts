// SPDX-License-Identifier: MIT
/**
 * Scenario 67 (type1-core-semantics.md §8), on the 6.12 profile: IOAS_ALLOC → ids; ATTACH_PT(ioas) → pt_id = hwpt
 * id; IOAS_MAP FIXED over an existing mapping → EEXIST; IOAS_UNMAP partial → ENOENT; IOAS_UNMAP of an unmapped
 * range → ENOENT; UNMAP 0..U64_MAX → all removed, the length returned.
 */
import { describe, expect, it } from 'vitest';
import { ioasAreas, iommufdObjects, userLockedVm } from '../../src/iommufd/selftest.js';
import { expectErrno } from '../core/helpers.js';
import {
  attach,
  bindCdev,
  expectBaseline,
  fresh,
  invariants,
  ioasAlloc,
  ioasMap,
  ioasMapRaw,
  ioasUnmap,
  ioasUnmapRaw,
  PAGE,
  U64_MAX,
} from './helpers.js';

describe('scenario 67: IOAS alloc / attach / map / unmap', () => {
  it('IOAS_ALLOC → ids; ATTACH_PT(ioas) → pt_id = hwpt id; MAP FIXED over existing → EEXIST; UNMAP partial / unmapped → ENOENT; UNMAP 0..U64_MAX → all, length returned', () => {
    const f = fresh();
    const { p } = f;
    const ictx = p.open('/dev/iommu');
    // IDs come from one table per iommufd, lowest free first from 1: two IOASes, then the bound device.
    const ioas = ioasAlloc(p, ictx);
    const ioas2 = ioasAlloc(p, ictx);
    expect([ioas, ioas2]).toEqual([1, 2]);
    const [d, devid] = bindCdev(p, ictx);
    expect(devid).toBe(3);
    // Attaching to an IOAS creates a HWPT (an auto domain); its ID, not the IOAS's, comes back in pt_id.
    const hwpt = attach(p, d, ioas);
    expect(hwpt).toBe(4);
    expect(iommufdObjects(p, ictx)).toEqual([
      [1, 'ioas'],
      [2, 'ioas'],
      [3, 'device'],
      [4, 'hwpt_paging'],
    ]);
    const buf = p.mmap({ length: 4 * Number(PAGE) });
    expect(ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: 2n * PAGE, iova: 0x100000n })).toBe(0x100000n);
    expect(ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address + 2n * PAGE, length: PAGE, iova: 0x200000n })).toBe(
      0x200000n,
    );
    // MAP FIXED over an existing mapping (iopt_check_iova): EEXIST, whether it covers it, starts inside or ends inside.
    const before = ioasAreas(p, ictx, ioas);
    expectErrno('EEXIST', () =>
      ioasMapRaw(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGE, iova: 0x100000n, flags: 7 }),
    );
    expectErrno('EEXIST', () =>
      ioasMapRaw(p, ictx, { ioasId: ioas, userVa: buf.address, length: 2n * PAGE, iova: 0x101000n, flags: 7 }),
    );
    expectErrno('EEXIST', () =>
      ioasMapRaw(p, ictx, { ioasId: ioas, userVa: buf.address, length: 2n * PAGE, iova: 0xff000n, flags: 7 }),
    );
    expect(ioasAreas(p, ictx, ioas)).toEqual(before);
    // UNMAP of part of a mapping: ENOENT, nothing removed.
    expectErrno('ENOENT', () => ioasUnmapRaw(p, ictx, ioas, 0x100000n, PAGE));
    expectErrno('ENOENT', () => ioasUnmapRaw(p, ictx, ioas, 0x101000n, PAGE));
    expect(ioasAreas(p, ictx, ioas)).toEqual(before);
    // UNMAP of a range with nothing mapped: ENOENT (type1 answers 0 and size 0 there).
    expectErrno('ENOENT', () => ioasUnmapRaw(p, ictx, ioas, 0x300000n, PAGE));
    expectErrno('ENOENT', () => ioasUnmapRaw(p, ictx, ioas2, 0x100000n, 2n * PAGE));
    expect(userLockedVm(f.kernel)).toBe(3);
    expect(invariants(f.kernel)).toEqual([]);
    // UNMAP iova 0, length U64_MAX: everything, the bytes unmapped written back in length.
    expect(ioasUnmap(p, ictx, ioas, 0n, U64_MAX)).toBe(3n * PAGE);
    expect(ioasAreas(p, ictx, ioas)).toEqual([]);
    expect(userLockedVm(f.kernel)).toBe(0);
    // … and again on the now empty IOAS: success, 0 bytes.
    expect(ioasUnmap(p, ictx, ioas, 0n, U64_MAX)).toBe(0n);
    expect(invariants(f.kernel)).toEqual([]);
    p.close(d);
    p.close(ictx);
    p.munmap(buf);
    expectBaseline(f);
  });
});
