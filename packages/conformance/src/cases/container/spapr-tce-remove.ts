// SPDX-License-Identifier: MIT
import {
  create,
  defaultWindowCharge,
  expectErrno,
  expectOk,
  locked,
  map,
  pages,
  remove,
  spaprV2Setup,
  tableCharge,
} from '../../helpers.js';
import type { Env, Scenario } from '../../types.js';

const V2 = ['spapr-v2'] as const;
const GiB = 1n << 30n;
const regd = (env: Env): bigint => BigInt(16 * env.pageSize);
const ddwStart = (env: Env): bigint => BigInt(env.facts.ddwStart ?? 0);

export const scenarios: Scenario[] = [
  {
    name: 'container/spapr-tce-remove: the created window → 0, its charge returned',
    modes: V2,
    source: 'spapr §13 #21',
    steps: [
      ...spaprV2Setup(),
      expectOk(create('C', 12, GiB)),
      expectOk(remove('C', ddwStart)),
      locked((env) => regd(env) + defaultWindowCharge(env)),
    ],
  },
  {
    name: 'container/spapr-tce-remove: an address inside the default window removes it (containment)',
    modes: V2,
    source: 'spapr §13 #21, §11 Q7',
    steps: [
      ...spaprV2Setup(),
      expectOk(map('C', 0n, pages(1))),
      expectOk(remove('C', 0x1000n)),
      locked(regd),
      expectErrno('ENXIO', map('C', 0n, pages(1))),
    ],
  },
  {
    name: 'container/spapr-tce-remove: REMOVE(0) while the default is pending cancels it; again → EINVAL',
    modes: V2,
    source: 'spapr §13 #21-22',
    steps: [...spaprV2Setup(), expectOk(remove('C', 0n)), locked(regd), expectErrno('EINVAL', remove('C', 0n))],
  },
  {
    name: 'container/spapr-tce-remove: after cancelling the default, MAP at 0 → ENXIO',
    modes: V2,
    source: 'spapr §4.8 REMOVE step 8',
    steps: [...spaprV2Setup(), expectOk(remove('C', 0n)), expectErrno('ENXIO', map('C', 0n, pages(1)))],
  },
  {
    name: 'container/spapr-tce-remove: an address in no window → EINVAL',
    modes: V2,
    source: 'spapr §4.8 REMOVE step 9',
    steps: [...spaprV2Setup(), expectOk(map('C', 0n, pages(1))), expectErrno('EINVAL', remove('C', 1n << 40n))],
  },
  {
    name: 'container/spapr-tce-remove: the 64-bit start while the default is pending → EINVAL, pending kept',
    modes: V2,
    source: 'spapr §13 #53',
    steps: [
      ...spaprV2Setup(),
      expectErrno('EINVAL', remove('C', ddwStart)),
      locked(regd),
      expectOk(map('C', 0n, pages(1))),
      locked((env) => regd(env) + defaultWindowCharge(env)),
    ],
  },
  {
    name: 'container/spapr-tce-remove: flags 1 → EINVAL',
    modes: V2,
    source: 'spapr §4.8 REMOVE step 7',
    steps: [...spaprV2Setup(), expectErrno('EINVAL', remove('C', 0n, { flags: 1 })), locked(regd)],
  },
  {
    name: 'container/spapr-tce-remove: argsz 15 → EINVAL',
    modes: V2,
    source: 'spapr §4.8 REMOVE step 6',
    steps: [...spaprV2Setup(), expectErrno('EINVAL', remove('C', 0n, { argsz: 15 }))],
  },
  {
    name: 'container/spapr-tce-remove: freed slots are reused lowest first',
    modes: V2,
    source: 'spapr §4.8 (after REMOVE(0) the next CREATE gets slot 0)',
    needs: { facts: ['tce32Size'], platform: 'powernv' },
    doc: 'pseries refuses a second window while its 64-bit DDW exists (spapr §3.2: EPERM); see the pseries variant.',
    steps: [
      ...spaprV2Setup(),
      expectOk(create('C', 12, GiB), { out: { startAddr: ddwStart } }),
      expectOk(remove('C', 0n)),
      expectOk(
        create('C', 12, (env) => BigInt(env.facts.tce32Size ?? 0)),
        { out: { startAddr: 0n } },
      ),
      locked((env) => regd(env) + defaultWindowCharge(env) + tableCharge(12, GiB)(env)),
    ],
  },
  {
    name: 'container/spapr-tce-remove: pseries: recreating the default window while the 64-bit window exists → EPERM',
    modes: V2,
    source: 'spapr §3.2 (pseries create_table: EPERM if a 64-bit window already exists)',
    needs: { facts: ['tce32Size'], platform: 'pseries' },
    realKernelHazard:
      'a failed window creation on pseries can make every later one on the PHB fail until reboot (real-kernel-testbed.md Hazards)',
    steps: [
      ...spaprV2Setup(),
      expectOk(create('C', 12, GiB), { out: { startAddr: ddwStart } }),
      expectOk(remove('C', 0n)),
      expectErrno(
        'EPERM',
        create('C', 12, (env) => BigInt(env.facts.tce32Size ?? 0)),
      ),
    ],
  },
];
