// SPDX-License-Identifier: MIT
import {
  buf,
  defaultWindowCharge,
  expectErrno,
  expectOk,
  locked,
  map,
  mmap,
  pages,
  register,
  spaprV2Setup,
  unmap,
  unregister,
} from '../../helpers.js';
import type { Scenario } from '../../types.js';

const V2 = ['spapr-v2'] as const;
const ORPHAN =
  'UNREGISTER with live TCEs orphans the region (spapr §11 Q1): it stays pinned and charged until the process exits, and blocks every later scenario that registers overlapping memory in the same process';

export const scenarios: Scenario[] = [
  {
    name: 'container/spapr-unregister-memory: exact range → 0, charge returned; again → ENOENT',
    modes: V2,
    source: 'spapr §13 #16',
    steps: [
      ...spaprV2Setup(pages(4)),
      expectOk(unregister('C', buf('B'), pages(4))),
      locked(0),
      expectErrno('ENOENT', unregister('C', buf('B'), pages(4))),
    ],
  },
  {
    name: 'container/spapr-unregister-memory: size mismatch → ENOENT',
    modes: V2,
    source: 'spapr §13 #17',
    steps: [...spaprV2Setup(pages(4)), expectErrno('ENOENT', unregister('C', buf('B'), pages(2))), locked(pages(4))],
  },
  {
    name: 'container/spapr-unregister-memory: vaddr not page-aligned → EINVAL',
    modes: V2,
    source: 'spapr §13 #17',
    steps: [...spaprV2Setup(pages(4)), expectErrno('EINVAL', unregister('C', buf('B', 0x800), pages(1)))],
  },
  {
    name: 'container/spapr-unregister-memory: flags 1 → EINVAL',
    modes: V2,
    source: 'spapr §4.10 step 6',
    steps: [...spaprV2Setup(pages(4)), expectErrno('EINVAL', unregister('C', buf('B'), pages(4), { flags: 1 }))],
  },
  {
    name: 'container/spapr-unregister-memory: argsz 23 → EINVAL',
    modes: V2,
    source: 'spapr §4.10 step 5',
    steps: [...spaprV2Setup(pages(4)), expectErrno('EINVAL', unregister('C', buf('B'), pages(4), { argsz: 23 }))],
  },
  {
    name: 'container/spapr-unregister-memory: a range never registered → ENOENT',
    modes: V2,
    source: 'spapr §4.10 step 8',
    steps: [...spaprV2Setup(pages(2)), mmap('X', pages(2)), expectErrno('ENOENT', unregister('C', buf('X'), pages(2)))],
  },
  {
    name: 'container/spapr-unregister-memory: after UNMAP of its TCEs → 0, charge returned',
    modes: V2,
    source: 'spapr §13 #16; anchors.md (DPDK: unmap before unregister)',
    steps: [
      ...spaprV2Setup(pages(4)),
      expectOk(map('C', 0n, pages(4))),
      expectOk(unmap('C', 0n, pages(4))),
      expectOk(unregister('C', buf('B'), pages(4))),
      locked(defaultWindowCharge),
    ],
  },
  {
    name: 'container/spapr-unregister-memory: with live TCEs → 0 and the region is orphaned (Q1)',
    modes: V2,
    source: 'spapr §13 #44, §11 Q1',
    realKernelHazard: ORPHAN,
    steps: [
      ...spaprV2Setup(pages(4)),
      expectOk(map('C', 0n, pages(1))),
      expectOk(unregister('C', buf('B'), pages(4))),
      locked((env) => BigInt(4 * env.pageSize) + defaultWindowCharge(env)),
      expectOk(map('C', 0n, pages(1))),
      expectOk(unmap('C', 0n, pages(1))),
      expectOk(register('C', buf('B'), pages(4))),
      expectErrno('EINVAL', register('C', buf('B', pages(1)), pages(2))),
    ],
  },
];
