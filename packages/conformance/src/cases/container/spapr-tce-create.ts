// SPDX-License-Identifier: MIT
import {
  buf,
  create,
  defaultWindowCharge,
  device,
  expectErrno,
  expectOk,
  locked,
  map,
  pages,
  remove,
  spaprV2Setup,
  tableCharge,
  unmap,
} from '../../helpers.js';
import type { Env, Scenario } from '../../types.js';

const V2 = ['spapr-v2'] as const;
const GiB = 1n << 30n;
const ddwStart = (env: Env): bigint => BigInt(env.facts.ddwStart ?? 0);
const regd = (env: Env): bigint => BigInt(16 * env.pageSize);
const POISON =
  'a TCE_CREATE that fails after its locked-memory charge leaks the charge, and a failed firmware window creation makes every later one on the PHB fail with ENODEV until reboot (real-kernel-testbed.md Hazards)';
const bad = (
  name: string,
  source: string,
  step: ReturnType<typeof create>,
  opts: { charged: boolean; hazard?: boolean },
): Scenario => ({
  name: `container/spapr-tce-create: ${name} → EINVAL`,
  modes: V2,
  source,
  ...(opts.hazard ? { realKernelHazard: POISON } : {}),
  steps: [
    ...spaprV2Setup(),
    expectErrno('EINVAL', step),
    // The pending default window is created before the arguments are checked (Q5), unless argsz/flags fail first.
    ...(opts.hazard ? [] : [locked((env: Env) => regd(env) + (opts.charged ? defaultWindowCharge(env) : 0n))]),
  ],
});

export const scenarios: Scenario[] = [
  {
    name: 'container/spapr-tce-create: a 1 GiB 4K-page window → start_addr of the 64-bit window, charged with the default',
    modes: V2,
    source: 'spapr §13 #20; real-kernel-testbed.md (pseries: start_addr 0x0800000000000000)',
    needs: { facts: ['ddwStart'] },
    steps: [
      ...spaprV2Setup(),
      expectOk(create('C', 12, GiB), { out: { startAddr: ddwStart } }),
      locked((env) => regd(env) + defaultWindowCharge(env) + tableCharge(12, GiB)(env)),
    ],
  },
  {
    name: 'container/spapr-tce-create: a 64K-page window',
    modes: V2,
    source: 'spapr §13 #20 (pgsizes include 64K)',
    steps: [
      ...spaprV2Setup(),
      expectOk(create('C', 16, GiB), { out: { startAddr: ddwStart } }),
      locked((env) => regd(env) + defaultWindowCharge(env) + tableCharge(16, GiB)(env)),
    ],
  },
  {
    name: 'container/spapr-tce-create: both slots used → ENOSPC',
    modes: V2,
    source: 'spapr §13 #20',
    steps: [...spaprV2Setup(), expectOk(create('C', 12, GiB)), expectErrno('ENOSPC', create('C', 12, GiB))],
  },
  {
    name: 'container/spapr-tce-create: both slots used and bad arguments → ENOSPC first',
    modes: V2,
    source: 'spapr §13 #50',
    steps: [...spaprV2Setup(), expectOk(create('C', 12, GiB)), expectErrno('ENOSPC', create('C', 13, 3n * GiB, 0))],
  },
  bad('page_shift 13 (not in pgsizes)', 'spapr §13 #39', create('C', 13, GiB), { charged: true }),
  bad('flags 1', 'spapr §13 #39 (checked before the default window)', create('C', 12, GiB, 1, { flags: 1 }), {
    charged: false,
  }),
  bad('argsz 39', 'spapr §13 #39', create('C', 12, GiB, 1, { argsz: 39 }), { charged: false }),
  bad('window size 3 GiB (not a power of two)', 'spapr §13 #39', create('C', 12, 3n * GiB), {
    charged: true,
    hazard: true,
  }),
  {
    ...bad('levels 0', 'spapr §13 #39 (powernv get_table_size = 0)', create('C', 12, GiB, 0), {
      charged: true,
      hazard: true,
    }),
    needs: { platform: 'powernv' },
  },
  bad('levels 6', 'spapr §13 #39', create('C', 12, GiB, 6), { charged: true, hazard: true }),
  {
    name: 'container/spapr-tce-create: window larger than the platform allows → EINVAL, charge kept (Q4)',
    modes: V2,
    source: 'spapr §13 #51, §3.2 (pseries: larger than the largest available block)',
    realKernelHazard: POISON,
    steps: [...spaprV2Setup(), expectErrno('EINVAL', create('C', 12, 1n << 56n))],
  },
  {
    name: 'container/spapr-tce-create: table charge over RLIMIT_MEMLOCK → ENOMEM, slot stays free',
    modes: V2,
    source: 'spapr §13 #40',
    steps: [
      ...spaprV2Setup(),
      { op: 'rlimit', bytes: (env) => regd(env) + defaultWindowCharge(env) },
      expectErrno('ENOMEM', create('C', 12, GiB)),
      locked((env) => regd(env) + defaultWindowCharge(env)),
      { op: 'rlimit', bytes: (env) => regd(env) + defaultWindowCharge(env) + tableCharge(12, GiB)(env) },
      expectOk(create('C', 12, GiB), { out: { startAddr: ddwStart } }),
    ],
  },
  {
    name: 'container/spapr-tce-create: MAP and UNMAP inside the new window',
    modes: V2,
    source: 'spapr §13 #20; real-kernel-testbed.md',
    steps: [
      ...spaprV2Setup(),
      { ...create('C', 12, GiB), expect: {}, save: { start: 'startAddr' } },
      expectOk(map('C', (env) => BigInt(env.vars.start ?? 0), pages(4))),
      expectOk(unmap('C', (env) => BigInt(env.vars.start ?? 0), pages(4))),
    ],
  },
  {
    name: 'container/spapr-tce-create: edu DMA through the 64-bit window',
    modes: V2,
    source: 'real-kernel-testbed.md (edu round trips through both windows)',
    needs: { edu: true },
    steps: [
      ...spaprV2Setup(),
      device('D'),
      { ...create('C', 12, GiB), expect: {}, save: { start: 'startAddr' } },
      expectOk(map('C', (env) => BigInt(env.vars.start ?? 0), pages(2))),
      {
        op: 'dma',
        device: 'D',
        iova: (env) => BigInt(env.vars.start ?? 0),
        buf: buf('B'),
        backIova: (env) => BigInt(env.vars.start ?? 0) + BigInt(env.pageSize),
        backBuf: buf('B', pages(1)),
        expect: 'ok',
      },
    ],
  },
  {
    name: 'container/spapr-tce-create: after REMOVE(0) of the pending default, a tce32-sized 4K window lands at 0',
    modes: V2,
    source: 'spapr §13 #22',
    needs: { facts: ['tce32Size'] },
    steps: [
      ...spaprV2Setup(),
      expectOk(remove('C', 0n)),
      locked(regd),
      expectOk(
        create('C', 12, (env) => BigInt(env.facts.tce32Size ?? 0)),
        { out: { startAddr: 0n } },
      ),
      expectOk(map('C', 0n, pages(1))),
    ],
  },
];
