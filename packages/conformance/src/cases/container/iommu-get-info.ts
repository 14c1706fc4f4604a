// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { buf, expectErrno, expectOk, ioctl, map, mmap, pages, struct, withIommu } from '../../helpers.js';
import { type Scenario, type1Modes } from '../../types.js';

const T = type1Modes;
const flags = uapi.VFIO_IOMMU_INFO_PGSIZES | uapi.VFIO_IOMMU_INFO_CAPS;

export const scenarios: Scenario[] = [
  {
    name: 'container/iommu-get-info: argsz 16 → 0, required argsz written back, caps not copied',
    modes: T,
    source: 'type1 §3.1 step 4, §8 #23',
    needs: { facts: ['type1InfoArgsz'] },
    steps: [
      ...withIommu(),
      expectOk(ioctl('C', 'VFIO_IOMMU_GET_INFO', struct({ argsz: 16 })), {
        out: { argsz: (env) => Number(env.facts.type1InfoArgsz), flags },
      }),
    ],
  },
  {
    name: 'container/iommu-get-info: argsz 24 (no room for caps) → cap_offset 0',
    modes: T,
    source: 'type1 §3.1 step 4',
    needs: { facts: ['type1InfoArgsz'] },
    steps: [
      ...withIommu(),
      expectOk(ioctl('C', 'VFIO_IOMMU_GET_INFO', struct({ argsz: 24, capOffset: 0x55 })), {
        out: { argsz: (env) => Number(env.facts.type1InfoArgsz), flags, capOffset: 0 },
      }),
    ],
  },
  {
    name: 'container/iommu-get-info: argsz 256 → caps at 24 (migration, dma_avail 65535, iova ranges)',
    modes: T,
    source: 'type1 §3.1, §8 #24',
    steps: [
      ...withIommu(),
      expectOk(ioctl('C', 'VFIO_IOMMU_GET_INFO', struct({ argsz: 256 }, 256)), {
        out: { argsz: 256, flags, capOffset: 24 },
      }),
    ],
  },
  {
    name: 'container/iommu-get-info: argsz 8 → EINVAL',
    modes: T,
    source: 'type1 §8 #25',
    steps: [...withIommu(), expectErrno('EINVAL', ioctl('C', 'VFIO_IOMMU_GET_INFO', struct({ argsz: 8 })))],
  },
  {
    name: 'container/iommu-get-info: argsz 15 → EINVAL (minsz 16)',
    modes: T,
    source: 'type1 §3.1 step 1',
    steps: [...withIommu(), expectErrno('EINVAL', ioctl('C', 'VFIO_IOMMU_GET_INFO', struct({ argsz: 15 })))],
  },
  {
    name: 'container/iommu-get-info: dma_avail counts one mapping (caps compared byte for byte)',
    modes: T,
    source: 'type1 §8 #26',
    steps: [
      ...withIommu(),
      mmap('B', pages(4)),
      expectOk(map('C', 0x100000n, pages(4), buf('B'))),
      expectOk(ioctl('C', 'VFIO_IOMMU_GET_INFO', struct({ argsz: 256 }, 256)), { out: { capOffset: 24 } }),
    ],
  },
];
