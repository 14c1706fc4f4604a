// SPDX-License-Identifier: MIT
/** SPDK's type1 use (lib/env_dpdk/memory.c vtophys) and the bugs in its history (anchors.md). */
import { buf, expectErrno, expectOk, locked, map, mmap, unmap, withIommu } from '../../helpers.js';
import type { Scenario } from '../../types.js';

const MiB2 = 0x20_0000;

export const scenarios: Scenario[] = [
  {
    name: 'sequence/spdk: v2 — unmapping one 2 MiB half of a 4 MiB mapping → EINVAL (why SPDK maps per 2 MiB)',
    modes: ['type1v2'],
    source: 'anchors.md (SPDK vtophys: one MAP per 2 MiB region); type1 §8 #36',
    steps: [
      ...withIommu(),
      mmap('B', 2 * MiB2),
      expectOk(map('C', 0x4000_0000n, 2 * MiB2)),
      expectErrno('EINVAL', unmap('C', 0x4000_0000n, MiB2)),
      locked(2 * MiB2),
    ],
  },
  {
    name: 'sequence/spdk: 2 MiB at a time — each half unmaps on its own',
    modes: ['type1v2', 'type1v1'],
    source: 'anchors.md (SPDK)',
    steps: [
      ...withIommu(),
      mmap('B', 2 * MiB2),
      expectOk(map('C', 0x4000_0000n, MiB2)),
      expectOk(map('C', 0x4020_0000n, MiB2, buf('B', MiB2))),
      expectOk(unmap('C', 0x4000_0000n, MiB2), { out: { size: BigInt(MiB2) } }),
      locked(MiB2),
      expectOk(unmap('C', 0x4020_0000n, MiB2), { out: { size: BigInt(MiB2) } }),
      locked(0),
    ],
  },
  {
    name: 'sequence/spdk: v1 — a sub-range UNMAP reports size 0 (SPDK checked the returned size)',
    modes: ['type1v1'],
    source: 'anchors.md (SPDK); type1 §8 #40',
    steps: [
      ...withIommu(),
      mmap('B', 2 * MiB2),
      expectOk(map('C', 0x4000_0000n, 2 * MiB2)),
      expectOk(unmap('C', 0x4020_0000n, MiB2), { out: { size: 0n } }),
      locked(2 * MiB2),
    ],
  },
  {
    name: 'sequence/spdk: unmapping memory that was never mapped → 0, size 0 (not an error)',
    modes: ['type1v2', 'type1v1'],
    source: 'anchors.md (SPDK); type1 §8 #35',
    steps: [...withIommu(), expectOk(unmap('C', 0x4000_0000n, MiB2), { out: { size: 0n } })],
  },
];
