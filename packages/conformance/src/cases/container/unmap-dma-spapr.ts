// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { buf, expectErrno, expectOk, ioctl, map, mmap, pages, spaprV1Setup, unmap, withIommu } from '../../helpers.js';
import type { Mode, Scenario, Step } from '../../types.js';

const setup = (mode: Mode): Step[] =>
  mode === 'spapr-v1'
    ? spaprV1Setup()
    : [
        ...withIommu(),
        mmap('B', pages(16)),
        {
          op: 'ioctl',
          fd: 'C',
          ioctl: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY',
          arg: { value: { vaddr: buf('B'), size: pages(16) } },
          expect: {},
        },
      ];
const perMode = (name: string, source: string, build: (mode: Mode) => Step[]): Scenario[] =>
  (['spapr-v2', 'spapr-v1'] as const).map((mode) => ({
    name: `container/unmap-dma (sPAPR ${mode}): ${name}`,
    modes: [mode],
    source,
    steps: build(mode),
  }));

export const scenarios: Scenario[] = [
  ...perMode('a mapped range → 0, size not written back (Q8)', 'spapr §13 #14', (m) => [
    ...setup(m),
    expectOk(map('C', 0n, pages(4))),
    expectOk(unmap('C', 0n, pages(4)), { out: { size: (env) => BigInt(4 * env.pageSize) } }),
    expectOk(unmap('C', 0n, pages(4))),
  ]),
  ...perMode('a sub-range of a mapping → 0 (TCE granularity, no bisect rule)', 'spapr §13 #14', (m) => [
    ...setup(m),
    expectOk(map('C', 0n, pages(4))),
    expectOk(unmap('C', (env) => BigInt(env.pageSize), pages(2))),
  ]),
  ...perMode('flags ALL → EINVAL', 'spapr §13 #15', (m) => [
    ...setup(m),
    expectErrno('EINVAL', unmap('C', 0n, 0n, uapi.VFIO_DMA_UNMAP_FLAG_ALL)),
  ]),
  ...perMode('iova outside every window → ENXIO', 'spapr §13 #15', (m) => [
    ...setup(m),
    expectErrno('ENXIO', unmap('C', 3n << 30n, pages(1))),
  ]),
  ...perMode('size not page-aligned → EINVAL', 'spapr §13 #15', (m) => [
    ...setup(m),
    expectErrno('EINVAL', unmap('C', 0n, 0x1800n)),
  ]),
  ...perMode('iova not page-aligned → returns 1 (Q2)', 'spapr §13 #15', (m) => [
    ...setup(m),
    expectOk(unmap('C', 0x1001n, pages(1)), { ret: 1 }),
  ]),
  ...perMode('argsz 23 → EINVAL', 'spapr §4.7 step 4', (m) => [
    ...setup(m),
    expectErrno('EINVAL', ioctl('C', 'VFIO_IOMMU_UNMAP_DMA', { value: { argsz: 23, size: 0x1000 } })),
  ]),
];
