// SPDX-License-Identifier: MIT
/**
 * Fail-nth sweep over a whole session (≙ the iommufd selftest's fail_nth): container, group, SET_IOMMU, device fd,
 * memory, two maps, a second group, unmap. Every named fault site fails once in turn; whatever the failing call,
 * only a VfioSystemError comes out, the invariants hold, and closing everything returns to baseline.
 */
import { isSystemError } from '@vfio-ts/core';
import { VFIO_TYPE1v2_IOMMU } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { SimKernel } from '../../src/index.js';
import { checkInvariants, failNth, livePages } from '../../src/testing/index.js';
import { cstr, E1000, EDU, intArg, mapDma, nr, unmapDma } from '../core/helpers.js';

function session(kernel: SimKernel): string[] {
  const failures: string[] = [];
  const p = kernel.createProcess({ rlimitMemlock: 1n << 30n });
  const step = (name: string, fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!isSystemError(e)) throw e;
      failures.push(`${name}: ${e.code}`);
    }
  };
  let c = -1;
  let g = -1;
  let g2 = -1;
  let buf: { address: bigint } | undefined;
  step('open container', () => {
    c = p.open('/dev/vfio/vfio');
  });
  step('open group', () => {
    g = p.open('/dev/vfio/1');
  });
  step('set container', () => p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c)));
  step('set iommu', () => p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU));
  step('device fd', () => p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU)));
  step('mmap', () => {
    buf = p.mmap({ length: 0x8000 });
  });
  step('map 1', () => mapDma(p, c, buf?.address ?? 0n, 0x100000n, 0x4000n));
  step('map 2', () => mapDma(p, c, (buf?.address ?? 0n) + 0x4000n, 0x200000n, 0x4000n));
  step('open group 2', () => {
    g2 = p.open('/dev/vfio/2');
  });
  step('set container 2', () => p.ioctl(g2, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c)));
  step('device fd 2', () => p.ioctl(g2, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(E1000)));
  step('unmap 1', () => unmapDma(p, c, 0x100000n, 0x4000n));
  const problems = checkInvariants(kernel);
  if (problems.length > 0) throw new Error(problems.join('; '));
  p.exit();
  return failures;
}

describe('fail-nth over a whole type1 session', () => {
  it('every fault site, failed once in turn, fails cleanly and leaves nothing behind', () => {
    const clean = session(SimKernel.create('x86_64-q35'));
    expect(clean).toEqual([]);
    const seen = new Set<string>();
    let n = 1;
    for (; n < 10_000; n++) {
      const kernel = SimKernel.create('x86_64-q35');
      const f = failNth(kernel, n);
      const failures = session(kernel);
      f.detach();
      expect(livePages(kernel)).toBe(0);
      expect(checkInvariants(kernel)).toEqual([]);
      for (const x of failures) seen.add(x.split(':')[0]!);
      if (!f.fired) break;
      expect(failures.length, `site ${f.hits[n - 1]} (#${n})`).toBeGreaterThan(0);
      // A new session on the same kernel works once the injection is gone.
      expect(session(kernel)).toEqual([]);
    }
    expect(n).toBeGreaterThan(15);
    // The sweep reached the allocation in SET_IOMMU, group attach, pinning and accounting.
    expect([...seen]).toEqual(expect.arrayContaining(['set iommu', 'set container 2', 'map 1', 'map 2', 'mmap']));
  });
});
