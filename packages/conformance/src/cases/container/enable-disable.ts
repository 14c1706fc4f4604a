// SPDX-License-Identifier: MIT
import {
  defaultWindowCharge,
  enableCharge,
  expectErrno,
  expectOk,
  ioctl,
  locked,
  map,
  mmap,
  pages,
  withIommu,
} from '../../helpers.js';
import type { Env, Scenario } from '../../types.js';

const V1 = ['spapr-v1'] as const;
const enable = ioctl('C', 'VFIO_IOMMU_ENABLE');
const disable = ioctl('C', 'VFIO_IOMMU_DISABLE');

export const scenarios: Scenario[] = [
  {
    name: 'container/iommu-enable: charges the whole 32-bit window; twice → EBUSY',
    modes: V1,
    source: 'spapr §13 #18, §4.5',
    needs: { facts: ['tce32Size'] },
    steps: [...withIommu(), expectOk(enable), locked(enableCharge), expectErrno('EBUSY', enable), locked(enableCharge)],
  },
  {
    name: 'container/iommu-disable: gives the charge back, MAP → EPERM, DISABLE again → 0',
    modes: V1,
    source: 'spapr §13 #18',
    steps: [
      ...withIommu(),
      mmap('B', pages(1)),
      expectOk(enable),
      expectOk(map('C', 0n, pages(1))),
      expectOk(disable),
      locked(defaultWindowCharge),
      expectErrno('EPERM', map('C', 0n, pages(1))),
      expectOk(disable),
    ],
  },
  {
    name: 'container/iommu-disable: without ENABLE → 0',
    modes: V1,
    source: 'spapr §4.5 (always 0)',
    steps: [...withIommu(), expectOk(disable), locked(0)],
  },
  {
    name: 'container/iommu-enable: over RLIMIT_MEMLOCK → ENOMEM, MAP → EPERM',
    modes: V1,
    source: 'spapr §13 #24',
    steps: [
      ...withIommu(),
      mmap('B', pages(1)),
      { op: 'rlimit', bytes: pages(1) },
      expectErrno('ENOMEM', enable),
      locked(0),
      expectErrno('EPERM', map('C', 0n, pages(1))),
    ],
  },
  {
    name: 'container/iommu-enable: re-ENABLE after DISABLE charges again',
    modes: V1,
    source: 'spapr §4.5 (DISABLE only blocks MAP until the next ENABLE)',
    steps: [
      ...withIommu(),
      expectOk(enable),
      expectOk(disable),
      expectOk(enable),
      locked((env: Env) => enableCharge(env)),
    ],
  },
];
