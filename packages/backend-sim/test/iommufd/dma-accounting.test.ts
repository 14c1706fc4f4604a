// SPDX-License-Identifier: MIT
/**
 * Device DMA through an IOAS, and what pinning costs (pages.c, 6.12): pins exist only while a domain of the IOAS
 * does; USER accounting charges the user's locked_vm against RLIMIT_MEMLOCK (not the mm's locked_vm), CAP_IPC_LOCK
 * charges nothing, every mode counts pinned_vm, MM mode (IOMMU_OPTION_RLIMIT_MODE) charges the mm like type1;
 * failures roll back everything; pinned pages outlive munmap. Ends with a fail-nth sweep over a whole session.
 */
import { isSystemError } from '@vfio-ts/core';
import { IOMMU_IOAS_MAP_READABLE, IOMMU_OPTION_OP_SET, IOMMU_OPTION_RLIMIT_MODE } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import type { SimKernel, SimProcessBackend } from '../../src/index.js';
import { ioasAreas, userLockedVm } from '../../src/iommufd/selftest.js';
import { device, failNth, livePages, lockedVm, passFd, processOf, recordIommuFaults } from '../../src/testing/index.js';
import { expectErrno } from '../core/helpers.js';
import {
  attach,
  attachRaw,
  bindCdev,
  cmd,
  decode,
  detach,
  digest,
  E1000_CDEV,
  EDU,
  eduDma,
  enableBusMaster,
  expectBaseline,
  FIXED,
  fresh,
  invariants,
  ioasAlloc,
  ioasMap,
  ioasMapRaw,
  ioasUnmap,
  nr,
  PAGE,
  RW,
  U64_MAX,
} from './helpers.js';

const PAGES = (n: number) => BigInt(n) * PAGE;

function pinnedVm(p: SimProcessBackend): number {
  return processOf(p).pinnedVm;
}

function dmaFaults(kernel: SimKernel): number {
  return device(kernel, EDU).dmaStats.faults;
}

describe('edu DMA through an IOAS', () => {
  it('reaches the IOAS mappings with their permissions; unmapped, read-only, unattached and detached IOVAs are blocked and reported', () => {
    const f = fresh();
    const { p, kernel } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const [d] = bindCdev(p, ictx);
    enableBusMaster(p, d);
    const src = p.mmap({ length: 4096 });
    const dst = p.mmap({ length: 4096 });
    src.bytes.set(new TextEncoder().encode('hello, ioas'));
    ioasMap(p, ictx, {
      ioasId: ioas,
      userVa: src.address,
      length: PAGE,
      iova: 0x100000n,
      flags: IOMMU_IOAS_MAP_READABLE | FIXED,
    });
    const dstIova = ioasMap(p, ictx, { ioasId: ioas, userVa: dst.address, length: PAGE });
    const faults = recordIommuFaults(kernel);
    // Bound but not attached: the group is in the blocking domain.
    eduDma(p, d, 0x100000n, 11, false);
    expect(faults.faults.map((x) => x.iova)).toEqual([0x100000n]);
    attach(p, d, ioas);
    eduDma(p, d, 0x100000n, 11, false);
    eduDma(p, d, dstIova, 11, true);
    expect(new TextDecoder().decode(dst.bytes.subarray(0, 11))).toBe('hello, ioas');
    expect(faults.faults).toHaveLength(1);
    // A write through the read-only mapping and a read of nothing mapped: blocked, -EPERM / -EFAULT.
    eduDma(p, d, 0x100000n, 4, true);
    eduDma(p, d, 0x500000n, 4, false);
    expect(faults.faults.slice(1).map((x) => [x.iova, x.write, x.reason])).toEqual([
      [0x100000n, true, -1],
      [0x500000n, false, -14],
    ]);
    expect(new TextDecoder().decode(src.bytes.subarray(0, 11))).toBe('hello, ioas');
    // Unmapped → blocked; detached → blocked although still mapped; reattached → through again.
    expect(ioasUnmap(p, ictx, ioas, dstIova, PAGE)).toBe(PAGE);
    eduDma(p, d, dstIova, 4, true);
    expect(detach(p, d)).toBe(0);
    eduDma(p, d, 0x100000n, 4, false);
    expect(faults.faults).toHaveLength(5);
    attach(p, d, ioas);
    eduDma(p, d, 0x100000n, 4, false);
    expect(faults.faults).toHaveLength(5);
    expect(dmaFaults(kernel)).toBe(5);
    faults.stop();
    p.close(d);
    p.close(ictx);
    p.munmap(src);
    p.munmap(dst);
    expectBaseline(f);
  });

  it('pinned pages outlive munmap: DMA still reaches them, nothing points at freed memory, and the pages go with the unmap', () => {
    const f = fresh();
    const { p, kernel } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const [d] = bindCdev(p, ictx);
    enableBusMaster(p, d);
    attach(p, d, ioas);
    const buf = p.mmap({ length: 2 * 4096 });
    buf.bytes.set(new TextEncoder().encode('still here'));
    ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGES(2), iova: 0x200000n });
    const live = livePages(kernel);
    p.munmap(buf);
    expect(livePages(kernel)).toBe(live);
    expect(invariants(kernel)).toEqual([]);
    const faults = recordIommuFaults(kernel);
    eduDma(p, d, 0x200000n, 10, false);
    eduDma(p, d, 0x201000n, 10, true);
    expect(faults.faults).toEqual([]);
    expect(userLockedVm(kernel)).toBe(2);
    // A new domain would have to pin the VA again: it is gone, so re-attaching fails and changes nothing.
    expect(detach(p, d)).toBe(0);
    expect(livePages(kernel)).toBe(live - 2);
    const before = digest(kernel);
    expectErrno('EFAULT', () => attachRaw(p, d, ioas));
    expect(digest(kernel)).toBe(before);
    expect(ioasUnmap(p, ictx, ioas, 0n, U64_MAX)).toBe(PAGES(2));
    faults.stop();
    p.close(d);
    p.close(ictx);
    expectBaseline(f);
  });
});

describe('pinning and accounting', () => {
  it("USER mode: nothing is pinned without a domain; attach pins and charges the user's locked_vm (not the mm's) against RLIMIT_MEMLOCK, plus pinned_vm; over the limit → ENOMEM with nothing changed", () => {
    const f = fresh({ rlimitMemlock: PAGES(16) });
    const { p, kernel } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const buf = p.mmap({ length: 32 * 4096 });
    ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGES(8), iova: 0x100000n });
    expect([userLockedVm(kernel), pinnedVm(p), lockedVm(p)]).toEqual([0, 0, 0]);
    const [d] = bindCdev(p, ictx);
    attach(p, d, ioas);
    expect([userLockedVm(kernel), pinnedVm(p), lockedVm(p)]).toEqual([8, 8, 0]);
    // 8 + 9 > 16: the whole map fails, every pin it took is dropped.
    const before = digest(kernel);
    expectErrno('ENOMEM', () =>
      ioasMapRaw(p, ictx, {
        ioasId: ioas,
        userVa: buf.address + PAGES(8),
        length: PAGES(9),
        iova: 0x200000n,
        flags: 7,
      }),
    );
    expect(digest(kernel)).toBe(before);
    // The same VA mapped again is a second pin and a second charge.
    ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGES(8), iova: 0x200000n });
    expect([userLockedVm(kernel), pinnedVm(p)]).toEqual([16, 16]);
    // A hole and the limit in one map: every page is pinned before the charge, so EFAULT wins (type1 would say ENOMEM).
    const hole = p.mmap({ length: 4096 });
    p.munmap(hole);
    expectErrno('EFAULT', () =>
      ioasMapRaw(p, ictx, { ioasId: ioas, userVa: hole.address, length: PAGE, iova: 0x300000n, flags: 7 }),
    );
    // Detach: the last domain goes, every pin and charge with it; the mappings stay (lazily).
    expect(detach(p, d)).toBe(0);
    expect([userLockedVm(kernel), pinnedVm(p)]).toEqual([0, 0]);
    expect(ioasAreas(p, ictx, ioas).map((a) => a.filled)).toEqual([false, false]);
    // Re-attach under a lower limit: filling the domain fails, the attach is undone (no HWPT left).
    p.close(d);
    const [d2] = bindCdev(p, ictx);
    processOf(p).rlimitMemlock = PAGES(15);
    const stuck = digest(kernel);
    expectErrno('ENOMEM', () => attachRaw(p, d2, ioas));
    expect(digest(kernel)).toBe(stuck);
    processOf(p).rlimitMemlock = PAGES(16);
    attach(p, d2, ioas);
    expect(userLockedVm(kernel)).toBe(16);
    expect(invariants(kernel)).toEqual([]);
    p.close(ictx);
    p.close(d2);
    p.munmap(buf);
    expectBaseline(f);
  });

  it("CAP_IPC_LOCK charges no locked_vm but still pinned_vm; the user's locked_vm is shared by every process (one uid)", () => {
    const f = fresh({ capIpcLock: true });
    const { p, kernel } = f;
    const ictx = p.open('/dev/iommu');
    const ioas = ioasAlloc(p, ictx);
    const [d] = bindCdev(p, ictx);
    attach(p, d, ioas);
    const buf = p.mmap({ length: 8 * 4096 });
    ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: PAGES(8) });
    expect([userLockedVm(kernel), pinnedVm(p), lockedVm(p)]).toEqual([0, 8, 0]);
    // Two unprivileged processes of the same user, 16 pages each: together they stop at 16.
    const q = kernel.createProcess({ rlimitMemlock: PAGES(16) });
    const r = kernel.createProcess({ rlimitMemlock: PAGES(16) });
    const qi = q.open('/dev/iommu');
    const qa = ioasAlloc(q, qi);
    const [qd] = bindCdev(q, qi, E1000_CDEV);
    attach(q, qd, qa);
    const qb = q.mmap({ length: 10 * 4096 });
    ioasMap(q, qi, { ioasId: qa, userVa: qb.address, length: PAGES(10) });
    const ri = passFd(q, qi, r);
    const rb = r.mmap({ length: 8 * 4096 });
    expectErrno('ENOMEM', () => ioasMapRaw(r, ri, { ioasId: qa, userVa: rb.address, length: PAGES(7) }));
    ioasMap(r, ri, { ioasId: qa, userVa: rb.address, length: PAGES(6) });
    expect([userLockedVm(kernel), pinnedVm(q), pinnedVm(r)]).toEqual([16, 10, 6]);
    expect(invariants(kernel)).toEqual([]);
    // r exits: its pins stay (the IOAS is q's and still holds them), as does its share of the charge.
    r.exit();
    expect(userLockedVm(kernel)).toBe(16);
    expect(invariants(kernel)).toEqual([]);
    q.exit();
    expect(userLockedVm(kernel)).toBe(0);
    p.close(d);
    p.close(ictx);
    p.munmap(buf);
    expectBaseline(f);
  });

  it("MM mode (IOMMU_OPTION_RLIMIT_MODE = 1, set by root on an empty ctx) charges the mapping process's own locked_vm, type1-style", () => {
    const f = fresh();
    const { kernel } = f;
    const root = kernel.createProcess({ capIpcLock: true });
    const ictx = root.open('/dev/iommu');
    root.ioctl(
      ictx,
      nr(root, 'IOMMU_OPTION'),
      cmd(root, 'iommu_option', { optionId: IOMMU_OPTION_RLIMIT_MODE, op: IOMMU_OPTION_OP_SET, val64: 1n }),
    );
    const user = kernel.createProcess({ rlimitMemlock: PAGES(4) });
    const ui = passFd(root, ictx, user);
    const ioas = ioasAlloc(user, ui);
    const [d] = bindCdev(user, ui);
    attach(user, d, ioas);
    const buf = user.mmap({ length: 8 * 4096 });
    ioasMap(user, ui, { ioasId: ioas, userVa: buf.address, length: PAGES(3) });
    expect([lockedVm(user), pinnedVm(user), userLockedVm(kernel)]).toEqual([3, 3, 0]);
    expectErrno('ENOMEM', () => ioasMapRaw(user, ui, { ioasId: ioas, userVa: buf.address, length: PAGES(2) }));
    // root's own maps stay unaccounted (CAP_IPC_LOCK → NONE, which MM mode does not override).
    const rb = root.mmap({ length: 4096 });
    ioasMap(root, ictx, { ioasId: ioas, userVa: rb.address, length: PAGE });
    expect([lockedVm(root), pinnedVm(root)]).toEqual([0, 1]);
    expect(invariants(kernel)).toEqual([]);
    user.exit();
    expect(lockedVm(root)).toBe(0);
    root.exit();
    expectBaseline(f);
  });
});

describe('fail-nth over an iommufd session', () => {
  /** open, IOAS ×2, bind, attach, map ×2 (one kernel-chosen), copy, attach a second device, unmap, detach. */
  function session(p: SimProcessBackend): void {
    const ictx = p.open('/dev/iommu');
    const a = ioasAlloc(p, ictx);
    const b = ioasAlloc(p, ictx);
    const [d] = bindCdev(p, ictx);
    attach(p, d, a);
    const buf = p.mmap({ length: 4 * 4096 });
    ioasMap(p, ictx, { ioasId: a, userVa: buf.address, length: PAGES(2), iova: 0x100000n });
    ioasMap(p, ictx, { ioasId: a, userVa: buf.address + PAGES(2), length: PAGES(2) });
    const c = cmd(p, 'iommu_ioas_copy', {
      flags: RW,
      dstIoasId: b,
      srcIoasId: a,
      srcIova: 0x100000n,
      length: PAGES(2),
    });
    p.ioctl(ictx, nr(p, 'IOMMU_IOAS_COPY'), c);
    expect(decode(p, 'iommu_ioas_copy', c).dstIova).toBeGreaterThan(0n);
    const [d2] = bindCdev(p, ictx, E1000_CDEV);
    attach(p, d2, b);
    ioasUnmap(p, ictx, a, 0x100000n, PAGES(2));
    expect(detach(p, d)).toBe(0);
  }

  it('fails the Nth allocation / pin / accounting / iommu_map for every N: only VfioSystemError, invariants hold after every failure, baseline after close', () => {
    let n = 1;
    const sites = new Set<string>();
    for (; ; n++) {
      const f = fresh();
      // The session runs in its own unprivileged process; f.p stays as the witness of the baseline.
      const q = f.kernel.createProcess({ rlimitMemlock: PAGES(64) });
      const fault = failNth(f.kernel, n);
      try {
        session(q);
      } catch (e) {
        if (!isSystemError(e)) throw e;
      }
      fault.detach();
      for (const s of fault.hits) sites.add(s);
      expect(invariants(f.kernel), `n=${n}`).toEqual([]);
      q.exit();
      expect(livePages(f.kernel), `n=${n}`).toBe(0);
      expect(digest(f.kernel), `n=${n}`).toBe(f.baseline);
      if (!fault.fired) break;
    }
    // The sweep reached every kind of site the session passes, and ran to completion at the end.
    expect([...sites].sort()).toEqual(['account_locked_vm', 'iommu_map', 'kzalloc', 'mmap', 'pin_user_pages']);
    expect(n).toBeGreaterThan(20);
  });
});
