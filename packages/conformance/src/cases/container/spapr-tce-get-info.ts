// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import {
  defaultWindowCharge,
  expectErrno,
  expectOk,
  ioctl,
  locked,
  remove,
  spaprV2Setup,
  struct,
  withIommu,
} from '../../helpers.js';
import type { Env, Scenario } from '../../types.js';

const info = (value: Record<string, unknown> = {}) =>
  ioctl('C', 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', struct(value as never));
const tce32Size = (env: Env): number => Number(env.facts.tce32Size);

export const scenarios: Scenario[] = [
  {
    name: 'container/spapr-tce-get-info: v2, argsz 32 → DDW flag, 32-bit window, ddw limits',
    modes: ['spapr-v2'],
    source: 'spapr §4.4, §13 #4; real-kernel-testbed.md (pseries: 1 GiB at 0, 0x1211000, 2 windows, 1 level)',
    needs: { facts: ['tce32Size'] },
    steps: [
      ...withIommu(),
      expectOk(info(), {
        out: { flags: uapi.VFIO_IOMMU_SPAPR_INFO_DDW, dma32WindowStart: 0, dma32WindowSize: tce32Size },
      }),
    ],
  },
  {
    name: 'container/spapr-tce-get-info: argsz 16 → 0, bytes 16..31 untouched',
    modes: ['spapr-v2'],
    source: 'spapr §13 #4',
    steps: [
      ...withIommu(),
      expectOk(info({ argsz: 16, ddw: { pgsizes: 0x5555n, maxDynamicWindowsSupported: 0x55, levels: 0x55 } }), {
        out: { argsz: 16, ddw: { pgsizes: 0x5555n, maxDynamicWindowsSupported: 0x55, levels: 0x55 } },
      }),
    ],
  },
  {
    name: 'container/spapr-tce-get-info: argsz 15 → EINVAL',
    modes: ['spapr-v2', 'spapr-v1'],
    source: 'spapr §13 #4',
    steps: [...withIommu(), expectErrno('EINVAL', info({ argsz: 15 }))],
  },
  {
    name: 'container/spapr-tce-get-info: v1 → flags 0 and ddw all zero',
    modes: ['spapr-v1'],
    source: 'spapr §13 #5',
    steps: [
      ...withIommu(),
      expectOk(info({ flags: 0xff }), {
        out: { flags: 0, ddw: { pgsizes: 0n, maxDynamicWindowsSupported: 0, levels: 0 } },
      }),
    ],
  },
  {
    name: "container/spapr-tce-get-info: the caller's flags are overwritten",
    modes: ['spapr-v2'],
    source: 'spapr §4.4 (input flags ignored)',
    steps: [...withIommu(), expectOk(info({ flags: 0xf0 }), { out: { flags: uapi.VFIO_IOMMU_SPAPR_INFO_DDW } })],
  },
  {
    name: 'container/spapr-tce-get-info: never creates the default window (no locked memory)',
    modes: ['spapr-v2', 'spapr-v1'],
    source: 'spapr §4.4',
    steps: [...withIommu(), expectOk(info()), { op: 'locked', delta: 0 }],
  },
  {
    name: 'container/spapr-tce-get-info: after REMOVE of the default window still reports it',
    modes: ['spapr-v2'],
    source: 'spapr §13 #52',
    needs: { facts: ['tce32Size'] },
    steps: [
      ...spaprV2Setup(),
      expectOk(
        ioctl(
          'C',
          'VFIO_IOMMU_SPAPR_TCE_CREATE',
          struct({ pageShift: 12, windowSize: (env: Env) => BigInt(env.facts.tce32Size ?? 0), levels: 1 }),
        ),
        {
          out: { startAddr: (env) => BigInt(env.facts.ddwStart ?? 0) },
        },
      ),
      expectOk(remove('C', 0n)),
      expectOk(info(), { out: { dma32WindowStart: 0, dma32WindowSize: tce32Size } }),
      locked((env) => BigInt(16 * env.pageSize) + defaultWindowCharge(env)),
    ],
  },
];
