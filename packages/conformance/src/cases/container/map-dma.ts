// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import {
  buf,
  close,
  device,
  expectErrno,
  expectOk,
  ioctl,
  locked,
  map,
  mmap,
  pages,
  RW,
  unmap,
  withIommu,
} from '../../helpers.js';
import { type Scenario, type Step, type1Modes } from '../../types.js';

const T = type1Modes;
const IOVA = 0x100000n;
const mapped = (n = 4): Step[] => [...withIommu(), mmap('B', pages(n)), expectOk(map('C', IOVA, pages(n)))];
const bad = (name: string, source: string, step: ReturnType<typeof map>, errno = 'EINVAL'): Scenario => ({
  name: `container/map-dma: ${name} → ${errno}`,
  modes: T,
  source,
  steps: [...withIommu(), mmap('B', pages(4)), expectErrno(errno, step), locked(0)],
});

export const scenarios: Scenario[] = [
  {
    name: 'container/map-dma: RW mapping → 0, locked memory grows by its size',
    modes: T,
    source: 'type1 §8 #26, §3.2 accounting',
    steps: [...mapped(4), locked(pages(4))],
  },
  {
    name: 'container/map-dma: READ-only mapping → 0',
    modes: T,
    source: 'type1 §3.2 #4',
    steps: [
      ...withIommu(),
      mmap('B', pages(1)),
      expectOk(map('C', IOVA, pages(1), buf('B'), uapi.VFIO_DMA_MAP_FLAG_READ)),
    ],
  },
  {
    name: 'container/map-dma: WRITE-only mapping → 0',
    modes: T,
    source: 'type1 §3.2 #4',
    steps: [
      ...withIommu(),
      mmap('B', pages(1)),
      expectOk(map('C', IOVA, pages(1), buf('B'), uapi.VFIO_DMA_MAP_FLAG_WRITE)),
    ],
  },
  bad('flags 0', 'type1 §8 #27', map('C', IOVA, pages(1), buf('B'), 0)),
  bad('unknown flag 8', 'type1 §8 #27', map('C', IOVA, pages(1), buf('B'), 8)),
  bad(
    'VADDR together with READ',
    'type1 §3.2 #4, §8 #43',
    map('C', IOVA, pages(1), buf('B'), uapi.VFIO_DMA_MAP_FLAG_VADDR | 1),
  ),
  bad('size 0', 'type1 §8 #27', map('C', IOVA, 0n)),
  bad('iova not page-aligned', 'type1 §8 #27', map('C', IOVA + 0x800n, pages(1))),
  bad('vaddr not page-aligned', 'type1 §8 #27', map('C', IOVA, pages(1), buf('B', 1))),
  bad(
    'size not page-aligned',
    'type1 §3.2 #5',
    map('C', IOVA, (env) => env.pageSize + 0x800),
  ),
  bad(
    'argsz 31',
    'type1 §8 #27',
    ioctl('C', 'VFIO_IOMMU_MAP_DMA', {
      value: { argsz: 31, flags: RW, vaddr: buf('B'), iova: IOVA, size: 0x1000 },
    }) as ReturnType<typeof map>,
  ),
  bad('iova + size wraps', 'type1 §8 #30', map('C', 0xffff_ffff_ffff_f000n, pages(2))),
  bad(
    'iova in the MSI window 0xfee00000',
    'type1 §8 #30 (not inside one iova range)',
    map('C', 0xfee0_0000n, pages(1)),
  ),
  bad('a range across the MSI window', 'type1 §3.2 #9', map('C', 0xfed0_0000n, 0x20_0000n)),
  bad(
    'iova past the aperture (39-bit guest)',
    'type1 §3.2 #9; real-kernel-testbed.md (ranges end 0x7fffffffff)',
    map('C', 0x80_0000_0000n, pages(1)),
  ),
  bad(
    'VADDR on an iova with no mapping',
    'type1 §8 #43',
    map('C', IOVA, pages(1), buf('B'), uapi.VFIO_DMA_MAP_FLAG_VADDR),
    'ENOENT',
  ),
  {
    name: 'container/map-dma: exact duplicate → EEXIST',
    modes: T,
    source: 'type1 §8 #28',
    steps: [...mapped(4), expectErrno('EEXIST', map('C', IOVA, pages(4))), locked(pages(4))],
  },
  {
    name: 'container/map-dma: partial overlap → EEXIST',
    modes: T,
    source: 'type1 §8 #28',
    steps: [
      ...mapped(4),
      expectErrno(
        'EEXIST',
        map('C', (env) => IOVA + BigInt(2 * env.pageSize), pages(4)),
      ),
    ],
  },
  {
    name: 'container/map-dma: a mapping abutting another → 0 (no merge)',
    modes: T,
    source: 'type1 §8 #29',
    steps: [
      ...mapped(4),
      expectOk(map('C', (env) => IOVA + BigInt(4 * env.pageSize), pages(1))),
      expectOk(
        unmap('C', (env) => IOVA + BigInt(4 * env.pageSize), pages(1)),
        { out: { size: (env) => BigInt(env.pageSize) } },
      ),
    ],
  },
  {
    name: 'container/map-dma: the same memory at two iovas is charged twice',
    modes: T,
    source: 'type1 §3.2 accounting (counted twice)',
    steps: [...mapped(2), expectOk(map('C', 0x200000n, pages(2))), locked(pages(4))],
  },
  {
    name: 'container/map-dma: unmapped vaddr → EFAULT, nothing stays mapped or charged',
    modes: T,
    source: 'type1 §8 #32, §3.2 #11',
    steps: [
      ...withIommu(),
      // Page 1 of the address space is never mapped (vm.mmap_min_addr).
      expectErrno('EFAULT', map('C', IOVA, pages(1), 0x1000n)),
      locked(0),
    ],
  },
  {
    name: 'container/map-dma: read-only memory with WRITE → EFAULT',
    modes: T,
    source: 'type1 §8 #32',
    steps: [
      ...withIommu(),
      mmap('R', pages(1), 'r'),
      expectErrno('EFAULT', map('C', IOVA, pages(1), buf('R'))),
      locked(0),
    ],
  },
  {
    name: 'container/map-dma: read-only memory with READ only → 0',
    modes: T,
    source: 'type1 §3.2 #11 (write access only for WRITE)',
    steps: [
      ...withIommu(),
      mmap('R', pages(1), 'r'),
      expectOk(map('C', IOVA, pages(1), buf('R'), uapi.VFIO_DMA_MAP_FLAG_READ)),
    ],
  },
  {
    name: 'container/map-dma: over RLIMIT_MEMLOCK without CAP_IPC_LOCK → ENOMEM, nothing mapped',
    modes: T,
    source: 'type1 §8 #31',
    steps: [
      ...withIommu(),
      mmap('B', pages(2)),
      { op: 'rlimit', bytes: pages(1) },
      expectErrno('ENOMEM', map('C', IOVA, pages(2))),
      locked(0),
      expectOk(map('C', IOVA, pages(1))),
      locked(pages(1)),
    ],
  },
  {
    name: 'container/map-dma: MAP VADDR on a mapping whose vaddr is valid → EINVAL',
    modes: T,
    source: 'type1 §8 #43',
    steps: [...mapped(1), expectErrno('EINVAL', map('C', IOVA, pages(1), buf('B'), uapi.VFIO_DMA_MAP_FLAG_VADDR))],
  },
  {
    name: 'container/map-dma: edu DMA round trip through the IOMMU, blocked after UNMAP',
    modes: T,
    source: 'real-kernel-testbed.md (edu DMA through the guest IOMMU)',
    needs: { edu: true },
    steps: [
      ...withIommu(),
      device('D'),
      mmap('B', pages(2)),
      expectOk(map('C', IOVA, pages(1))),
      expectOk(map('C', (env) => IOVA + BigInt(env.pageSize), pages(1), buf('B', page1))),
      {
        op: 'dma',
        device: 'D',
        iova: IOVA,
        buf: buf('B'),
        backIova: (env) => IOVA + BigInt(env.pageSize),
        backBuf: buf('B', page1),
        expect: 'ok',
      },
      expectOk(
        unmap('C', (env) => IOVA + BigInt(env.pageSize), pages(1)),
        { out: { size: (env) => BigInt(env.pageSize) } },
      ),
      {
        op: 'dma',
        device: 'D',
        iova: IOVA,
        buf: buf('B'),
        backIova: (env) => IOVA + BigInt(env.pageSize),
        backBuf: buf('B', page1),
        expect: 'blocked',
      },
      expectOk(close('D')),
    ],
  },
];

function page1(env: { pageSize: number }): number {
  return env.pageSize;
}
