// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { expectErrno, expectOk, ioctl, struct, withIommu } from '../../helpers.js';
import type { Scenario } from '../../types.js';

const START = uapi.VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
const STOP = uapi.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
const GET = uapi.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
const dirty = (flags: number, extra: Record<string, number> = {}) =>
  ioctl('C', 'VFIO_IOMMU_DIRTY_PAGES', struct({ flags, ...extra }));

export const scenarios: Scenario[] = [
  {
    name: 'container/dirty-pages: v1 container → EACCES',
    modes: ['type1v1'],
    source: 'type1 §8 #47',
    steps: [...withIommu(), expectErrno('EACCES', dirty(START))],
  },
  {
    name: 'container/dirty-pages: START|STOP → EINVAL',
    modes: ['type1v2'],
    source: 'type1 §8 #47',
    steps: [...withIommu(), expectErrno('EINVAL', dirty(START | STOP))],
  },
  {
    name: 'container/dirty-pages: flags 0 → EINVAL',
    modes: ['type1v2'],
    source: 'type1 §3.4 (not exactly one flag)',
    steps: [...withIommu(), expectErrno('EINVAL', dirty(0))],
  },
  {
    name: 'container/dirty-pages: argsz 7 → EINVAL',
    modes: ['type1v2'],
    source: 'type1 §3.4',
    steps: [...withIommu(), expectErrno('EINVAL', dirty(START, { argsz: 7 }))],
  },
  {
    name: 'container/dirty-pages: START twice → 0, 0; STOP → 0',
    modes: ['type1v2'],
    source: 'type1 §8 #47 (idempotent)',
    steps: [...withIommu(), expectOk(dirty(START)), expectOk(dirty(START)), expectOk(dirty(STOP))],
  },
  {
    name: 'container/dirty-pages: STOP without START → 0',
    modes: ['type1v2'],
    source: 'type1 §8 #47',
    steps: [...withIommu(), expectOk(dirty(STOP))],
  },
  {
    name: 'container/dirty-pages: GET_BITMAP before START → EINVAL',
    modes: ['type1v2'],
    source: 'type1 §8 #47',
    steps: [
      ...withIommu(),
      expectErrno('EINVAL', ioctl('C', 'VFIO_IOMMU_DIRTY_PAGES', struct({ argsz: 48, flags: GET }, 48))),
    ],
  },
];
