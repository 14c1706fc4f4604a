// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import {
  attached,
  buf,
  expectErrno,
  expectOk,
  fdOf,
  int,
  ioctl,
  locked,
  map,
  mmap,
  modeType,
  openGroup,
  pages,
  unmap,
  withIommu,
} from '../../helpers.js';
import type { Env, Scenario, Step } from '../../types.js';
import { type1Modes } from '../../types.js';

const T = type1Modes;
const IOVA = 0x100000n;
const at =
  (n: number) =>
  (env: Env): bigint =>
    IOVA + BigInt(n * env.pageSize);
const bytes =
  (n: number) =>
  (env: Env): bigint =>
    BigInt(n * env.pageSize);
const mapped = (n = 4): Step[] => [...withIommu(), mmap('B', pages(n)), expectOk(map('C', IOVA, pages(n)))];
const bad = (name: string, source: string, step: ReturnType<typeof unmap>): Scenario => ({
  name: `container/unmap-dma: ${name} → EINVAL, nothing unmapped`,
  modes: T,
  source,
  steps: [...mapped(2), expectErrno('EINVAL', step), locked(pages(2))],
});

export const scenarios: Scenario[] = [
  {
    name: 'container/unmap-dma: exactly one mapping → 0, size written back, locked memory returned',
    modes: T,
    source: 'type1 §8 #34',
    steps: [...mapped(4), expectOk(unmap('C', IOVA, pages(4)), { out: { size: bytes(4) } }), locked(0)],
  },
  {
    name: 'container/unmap-dma: a range with no mapping → 0, size 0',
    modes: T,
    source: 'type1 §8 #35',
    steps: [...withIommu(), expectOk(unmap('C', IOVA, pages(4)), { out: { size: 0n } })],
  },
  {
    name: 'container/unmap-dma: v2, the first half of a mapping → EINVAL (no bisect), size untouched',
    modes: ['type1v2'],
    source: 'type1 §8 #36',
    steps: [...mapped(2), expectErrno('EINVAL', unmap('C', IOVA, pages(1))), locked(pages(2))],
  },
  {
    name: 'container/unmap-dma: v2, the second half of a mapping → EINVAL',
    modes: ['type1v2'],
    source: 'type1 §8 #36',
    steps: [...mapped(2), expectErrno('EINVAL', unmap('C', at(1), pages(1))), locked(pages(2))],
  },
  {
    name: 'container/unmap-dma: v2, two mappings and a hole in one call → sum of sizes',
    modes: T,
    source: 'type1 §8 #37',
    steps: [
      ...withIommu(),
      mmap('B', pages(4)),
      expectOk(map('C', IOVA, pages(1))),
      expectOk(map('C', at(2), pages(1), buf('B', pages(2)))),
      expectOk(unmap('C', IOVA, pages(4)), { out: { size: bytes(2) } }),
      locked(0),
    ],
  },
  bad('size 0', 'type1 §8 #38', unmap('C', IOVA, 0n)),
  bad('size not page-aligned', 'type1 §8 #38', unmap('C', IOVA, 0x800n)),
  bad('iova not page-aligned', 'type1 §8 #38', unmap('C', IOVA + 0x800n, pages(1))),
  bad('unknown flag 8', 'type1 §8 #38', unmap('C', IOVA, pages(2), 8)),
  bad('iova + size wraps', 'type1 §3.3 #7', unmap('C', 0xffff_ffff_ffff_f000n, 0x2000n)),
  bad(
    'argsz 23',
    'type1 §8 #38',
    ioctl('C', 'VFIO_IOMMU_UNMAP_DMA', { value: { argsz: 23, iova: IOVA, size: 0x1000 } }) as ReturnType<typeof unmap>,
  ),
  bad('ALL with a non-zero iova', 'type1 §8 #39', unmap('C', 0x1000n, 0n, uapi.VFIO_DMA_UNMAP_FLAG_ALL)),
  bad(
    'GET_DIRTY_BITMAP with ALL',
    'type1 §8 #46',
    unmap('C', 0n, 0n, uapi.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | uapi.VFIO_DMA_UNMAP_FLAG_ALL),
  ),
  bad(
    'GET_DIRTY_BITMAP with dirty tracking off',
    'type1 §8 #46',
    ioctl('C', 'VFIO_IOMMU_UNMAP_DMA', {
      value: { argsz: 48, flags: uapi.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, iova: IOVA, size: 0x2000 },
      size: 48,
    }) as ReturnType<typeof unmap>,
  ),
  {
    name: 'container/unmap-dma: ALL with iova 0 size 0 → every mapping, size = total',
    modes: T,
    source: 'type1 §8 #39',
    steps: [
      ...mapped(2),
      expectOk(map('C', 0x400000n, pages(1))),
      expectOk(unmap('C', 0n, 0n, uapi.VFIO_DMA_UNMAP_FLAG_ALL), { out: { size: bytes(3) } }),
      locked(0),
      expectOk(unmap('C', IOVA, pages(2)), { out: { size: 0n } }),
    ],
  },
  {
    name: 'container/unmap-dma: v1, a range starting inside a mapping → 0, size 0, mapping intact',
    modes: ['type1v1'],
    source: 'type1 §8 #40',
    steps: [
      ...mapped(2),
      expectOk(unmap('C', at(1), pages(1)), { out: { size: 0n } }),
      locked(pages(2)),
      expectErrno('EEXIST', map('C', IOVA, pages(2))),
    ],
  },
  {
    name: 'container/unmap-dma: v1, the first page of a mapping removes it whole',
    modes: ['type1v1'],
    source: 'type1 §8 #41',
    steps: [...mapped(2), expectOk(unmap('C', IOVA, pages(1)), { out: { size: bytes(2) } }), locked(0)],
  },
  {
    name: 'container/unmap-dma: VADDR invalidates, MAP VADDR gives a new vaddr',
    modes: T,
    source: 'type1 §8 #42',
    steps: [
      ...mapped(2),
      mmap('N', pages(2)),
      expectOk(unmap('C', IOVA, pages(2), uapi.VFIO_DMA_UNMAP_FLAG_VADDR), { out: { size: bytes(2) } }),
      expectOk(map('C', IOVA, pages(2), buf('N'), uapi.VFIO_DMA_MAP_FLAG_VADDR)),
      locked(pages(2)),
    ],
  },
  {
    name: 'container/unmap-dma: VADDR twice on the same range → EINVAL',
    modes: T,
    source: 'type1 §8 #44',
    steps: [
      ...mapped(2),
      expectOk(unmap('C', IOVA, pages(2), uapi.VFIO_DMA_UNMAP_FLAG_VADDR)),
      expectErrno('EINVAL', unmap('C', IOVA, pages(2), uapi.VFIO_DMA_UNMAP_FLAG_VADDR)),
      mmap('N', pages(2)),
      expectOk(map('C', IOVA, pages(2), buf('N'), uapi.VFIO_DMA_MAP_FLAG_VADDR)),
    ],
  },
  {
    name: 'container/unmap-dma: MAP VADDR with another size → EINVAL',
    modes: T,
    source: 'type1 §8 #43',
    steps: [
      ...mapped(2),
      expectOk(unmap('C', IOVA, pages(2), uapi.VFIO_DMA_UNMAP_FLAG_VADDR)),
      expectErrno('EINVAL', map('C', IOVA, pages(1), buf('B'), uapi.VFIO_DMA_MAP_FLAG_VADDR)),
    ],
  },
  {
    name: 'container/unmap-dma: a normal UNMAP of an invalidated mapping → 0',
    modes: T,
    source: 'type1 §3.3 (allowed)',
    steps: [
      ...mapped(2),
      expectOk(unmap('C', IOVA, pages(2), uapi.VFIO_DMA_UNMAP_FLAG_VADDR)),
      expectOk(unmap('C', IOVA, pages(2)), { out: { size: bytes(2) } }),
      locked(0),
    ],
  },
  {
    name: 'container/unmap-dma: while a vaddr is invalid, attaching a second group → EBUSY',
    modes: T,
    source: 'type1 §8 #45',
    needs: { groups: 2 },
    steps: [
      ...mapped(1),
      expectOk(unmap('C', IOVA, pages(1), uapi.VFIO_DMA_UNMAP_FLAG_VADDR)),
      expectOk(openGroup('G2', 1), { ret: 'fd' }),
      expectErrno('EBUSY', ioctl('G2', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C') })),
      expectOk(map('C', IOVA, pages(1), buf('B'), uapi.VFIO_DMA_MAP_FLAG_VADDR)),
      expectOk(ioctl('G2', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C') })),
    ],
  },
  {
    name: 'container/unmap-dma: a second group joins a type1 container with mappings',
    modes: T,
    source: 'type1 §2.2 SET_CONTAINER (a container may hold many groups)',
    needs: { groups: 2 },
    steps: [
      ...mapped(1),
      expectOk(openGroup('G2', 1), { ret: 'fd' }),
      expectOk(ioctl('G2', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C') })),
      expectOk(ioctl('G2', 'VFIO_GROUP_UNSET_CONTAINER')),
      expectOk(unmap('C', IOVA, pages(1)), { out: { size: bytes(1) } }),
    ],
  },
  {
    name: 'container/unmap-dma: UNSET_CONTAINER of the last group unmaps everything and gives the memory back',
    modes: T,
    source: 'type1 §8 #48, §2.2 UNSET',
    steps: [
      ...mapped(2),
      expectOk(ioctl('G', 'VFIO_GROUP_UNSET_CONTAINER')),
      locked(0),
      expectOk(ioctl('G', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C') })),
      expectOk(ioctl('C', 'VFIO_SET_IOMMU', int(modeType))),
      expectOk(unmap('C', IOVA, pages(2)), { out: { size: 0n } }),
    ],
  },
  {
    name: 'container/unmap-dma: after the last group left, MAP → EINVAL and UPDATE_VADDR → 0',
    modes: T,
    source: 'type1 §8 #19',
    steps: [
      ...attached(),
      expectOk(ioctl('C', 'VFIO_SET_IOMMU', int(modeType))),
      expectOk(ioctl('G', 'VFIO_GROUP_UNSET_CONTAINER')),
      mmap('B', pages(1)),
      expectErrno('EINVAL', map('C', IOVA, pages(1))),
      expectOk(ioctl('C', 'VFIO_CHECK_EXTENSION', int(uapi.VFIO_UPDATE_VADDR)), { ret: 0 }),
    ],
  },
];
