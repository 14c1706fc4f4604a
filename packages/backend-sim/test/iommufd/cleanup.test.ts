// SPDX-License-Identifier: MIT
/**
 * Closing the iommufd and the device fds in any order (and exiting, and handing the iommufd to another process)
 * returns every resource: pins, the user's locked_vm, pinned_vm, object IDs, DMA ownership, live pages. The
 * iommufd file outlives its fd while a bound device holds it (≙ iommufd_ctx_get in bind), and its objects with it.
 */
import { describe, expect, it } from 'vitest';
import type { SimProcessBackend } from '../../src/index.js';
import { ioasAreas, liveIommufdContexts, userLockedVm } from '../../src/iommufd/selftest.js';
import { passFd, processOf, recordIommuFaults } from '../../src/testing/index.js';
import { expectErrno } from '../core/helpers.js';
import {
  attach,
  attachRaw,
  bindCdev,
  cmd,
  destroy,
  E1000_CDEV,
  eduDma,
  enableBusMaster,
  expectBaseline,
  type Fresh,
  fresh,
  invariants,
  ioasAlloc,
  ioasMap,
  nr,
  PAGE,
} from './helpers.js';

interface World {
  ictx: number;
  ioas: number;
  d: number;
  d2: number;
  buf: ReturnType<SimProcessBackend['mmap']>;
}

/** An iommufd with two IOASes (one with a manual HWPT), both devices attached, mappings pinned, a compat IOAS set. */
function build(f: Fresh, p = f.p): World {
  const ictx = p.open('/dev/iommu');
  const ioas = ioasAlloc(p, ictx);
  const other = ioasAlloc(p, ictx);
  const [d, devid] = bindCdev(p, ictx);
  const [d2] = bindCdev(p, ictx, E1000_CDEV);
  const h = cmd(p, 'iommu_hwpt_alloc', { devId: devid, ptId: other });
  p.ioctl(ictx, nr(p, 'IOMMU_HWPT_ALLOC'), h);
  attach(p, d, ioas);
  attach(p, d2, other);
  const buf = p.mmap({ length: 4 * 4096 });
  ioasMap(p, ictx, { ioasId: ioas, userVa: buf.address, length: 4n * PAGE, iova: 0x100000n });
  ioasMap(p, ictx, { ioasId: other, userVa: buf.address, length: 2n * PAGE });
  p.ioctl(ictx, nr(p, 'IOMMU_VFIO_IOAS'), cmd(p, 'iommu_vfio_ioas', { op: 1, ioasId: other }));
  expect(userLockedVm(f.kernel)).toBe(6);
  expect(processOf(p).pinnedVm).toBe(6);
  expect(invariants(f.kernel)).toEqual([]);
  return { ictx, ioas, d, d2, buf };
}

describe('cleanup in every close order', () => {
  const orders: [string, (p: SimProcessBackend, w: World) => void][] = [
    [
      'devices, then iommufd, then memory',
      (p, w) =>
        [w.d, w.d2, w.ictx].forEach((fd) => {
          p.close(fd);
        }),
    ],
    [
      'iommufd, then devices',
      (p, w) =>
        [w.ictx, w.d2, w.d].forEach((fd) => {
          p.close(fd);
        }),
    ],
    [
      'one device, iommufd, the other device',
      (p, w) =>
        [w.d2, w.ictx, w.d].forEach((fd) => {
          p.close(fd);
        }),
    ],
    [
      'memory first (pins hold the pages), then everything',
      (p, w) => {
        p.munmap(w.buf);
        [w.ictx, w.d, w.d2].forEach((fd) => {
          p.close(fd);
        });
      },
    ],
  ];
  for (const [name, close] of orders) {
    it(name, () => {
      const f = fresh({ rlimitMemlock: 64n * PAGE });
      const w = build(f);
      close(f.p, w);
      expect(invariants(f.kernel)).toEqual([]);
      if (f.p.process.findVma(w.buf.address) !== undefined) f.p.munmap(w.buf);
      expect(liveIommufdContexts(f.kernel)).toBe(0);
      expect(userLockedVm(f.kernel)).toBe(0);
      expectBaseline(f);
    });
  }

  it('with the iommufd fd closed, a bound device keeps the ctx alive: its IOAS still maps and DMA still works', () => {
    const f = fresh();
    const { p, kernel } = f;
    const w = build(f);
    enableBusMaster(p, w.d);
    p.close(w.ictx);
    expect(liveIommufdContexts(kernel)).toBe(1);
    const faults = recordIommuFaults(kernel);
    eduDma(p, w.d, 0x100000n, 8, false);
    expect(faults.faults).toEqual([]);
    p.close(w.d);
    // Still held by the e1000's binding.
    expect(liveIommufdContexts(kernel)).toBe(1);
    expect(userLockedVm(kernel)).toBe(2);
    p.close(w.d2);
    expect(liveIommufdContexts(kernel)).toBe(0);
    faults.stop();
    p.munmap(w.buf);
    expectBaseline(f);
  });

  it('process exit with everything open; an iommufd shared with another process lives on there', () => {
    const f = fresh();
    const { kernel } = f;
    const q = kernel.createProcess({ rlimitMemlock: 64n * PAGE });
    build(f, q);
    q.exit();
    expect(liveIommufdContexts(kernel)).toBe(0);
    expect(invariants(kernel)).toEqual([]);
    expectBaseline(f);

    // q2 maps, passes the iommufd to r and exits: r holds the ctx, the pins (from q2's dead mm) stay until r closes.
    const q2 = kernel.createProcess({ rlimitMemlock: 64n * PAGE });
    const r = kernel.createProcess();
    const ictx = q2.open('/dev/iommu');
    const ioas = ioasAlloc(q2, ictx);
    const buf = q2.mmap({ length: 2 * 4096 });
    ioasMap(q2, ictx, { ioasId: ioas, userVa: buf.address, length: 2n * PAGE, iova: 0x1000n });
    const ri = passFd(q2, ictx, r);
    q2.exit();
    const [d] = bindCdev(r, ri);
    // q2's mm is gone: the domain cannot pin its VA (mmget_not_zero fails) → EFAULT.
    expectErrno('EFAULT', () => attachRaw(r, d, ioas));
    expect(ioasAreas(r, ri, ioas)).toHaveLength(1);
    expect(destroy(r, ri, ioas)).toBe(0);
    expect(invariants(kernel)).toEqual([]);
    r.exit();
    expectBaseline(f);
  });
});
