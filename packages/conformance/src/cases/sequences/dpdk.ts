// SPDX-License-Identifier: MIT
/**
 * DPDK's client sequences (lib/eal/linux/eal_vfio.c; anchors.md): type1 with EEXIST tolerated on re-map, sPAPR v2
 * with one window from 0 sized for all memory, unmap before unregister, and the bugs in its history.
 */
import * as uapi from '@vfio-ts/uapi';
import {
  buf,
  create,
  defaultWindowCharge,
  expectErrno,
  expectOk,
  int,
  ioctl,
  locked,
  map,
  mmap,
  pages,
  register,
  remove,
  spaprV2Setup,
  struct,
  tableCharge,
  unmap,
  unregister,
  withIommu,
} from '../../helpers.js';
import type { Scenario } from '../../types.js';

export const scenarios: Scenario[] = [
  {
    name: 'sequence/dpdk: type1 — map, re-map of the same segment → EEXIST (tolerated), unmap',
    modes: ['type1v2', 'type1v1'],
    source: 'anchors.md (DPDK EEXIST tolerance in vfio_type1_dma_mem_map)',
    steps: [
      ...withIommu(),
      mmap('B', pages(4)),
      expectOk(map('C', 0x100000n, pages(4))),
      expectErrno('EEXIST', map('C', 0x100000n, pages(4))),
      expectOk(unmap('C', 0x100000n, pages(4)), { out: { size: (env) => BigInt(4 * env.pageSize) } }),
      locked(0),
    ],
  },
  {
    name: 'sequence/dpdk: type1 — UNMAP_ALL at teardown (CHECK_EXTENSION(UNMAP_ALL) first)',
    modes: ['type1v2', 'type1v1'],
    source: 'anchors.md; type1 §3.3 #7',
    steps: [
      ...withIommu(),
      expectOk(ioctl('C', 'VFIO_CHECK_EXTENSION', int(uapi.VFIO_UNMAP_ALL)), { ret: 1 }),
      mmap('B', pages(4)),
      expectOk(map('C', 0x100000n, pages(2))),
      expectOk(map('C', 0x300000n, pages(2), buf('B', pages(2)))),
      expectOk(unmap('C', 0n, 0n, uapi.VFIO_DMA_UNMAP_FLAG_ALL), { out: { size: (env) => BigInt(4 * env.pageSize) } }),
      locked(0),
    ],
  },
  {
    name: 'sequence/dpdk: sPAPR v2 — one window from 0 sized for all memory, map, unmap before unregister',
    modes: ['spapr-v2'],
    source: 'anchors.md (DPDK spapr: remove the default window, create one starting at 0; unmap before unregister)',
    steps: [
      ...spaprV2Setup(pages(16)),
      expectOk(ioctl('C', 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', struct({}))),
      expectOk(remove('C', 0n)),
      expectOk(create('C', 12, 1n << 30n), { out: { startAddr: 0n } }),
      expectOk(map('C', 0n, pages(16))),
      expectOk(unmap('C', 0n, pages(16))),
      expectOk(unregister('C', buf('B'), pages(16))),
      expectOk(remove('C', 0n)),
      locked(0),
    ],
  },
  {
    name: 'sequence/dpdk: sPAPR v2 — a window whose start is not 0 is refused by DPDK (the default window first leaves 0 taken)',
    modes: ['spapr-v2'],
    source:
      'anchors.md (DPDK requires start_addr 0: create after a MAP materialised the default window lands elsewhere)',
    needs: { facts: ['ddwStart'] },
    steps: [
      ...spaprV2Setup(pages(4)),
      expectOk(map('C', 0n, pages(1))),
      expectOk(create('C', 12, 1n << 30n), { out: { startAddr: (env) => BigInt(env.facts.ddwStart ?? 0) } }),
      locked((env) => BigInt(4 * env.pageSize) + defaultWindowCharge(env) + tableCharge(12, 1n << 30n)(env)),
    ],
  },
  {
    name: 'sequence/dpdk: sPAPR v2 — the old unregister-before-unmap bug (orphans the region on current kernels; EBUSY on ≈4.10–4.20)',
    modes: ['spapr-v2'],
    source: 'anchors.md (DPDK: unmap before unregister); spapr §11 Q1, §12',
    realKernelHazard:
      'UNREGISTER with live TCEs orphans the region until the process exits (spapr §11 Q1), breaking later scenarios in the process',
    steps: [
      ...spaprV2Setup(pages(4)),
      expectOk(map('C', 0n, pages(4))),
      expectOk(unregister('C', buf('B'), pages(4))),
      locked((env) => BigInt(4 * env.pageSize) + defaultWindowCharge(env)),
    ],
  },
  {
    name: 'sequence/dpdk: sPAPR v2 — a window that is not a power of two → EINVAL (DPDK rounds its size up)',
    modes: ['spapr-v2'],
    source: 'anchors.md (DPDK window sizing bugs)',
    realKernelHazard:
      'a failing TCE_CREATE leaks its locked-memory charge and may poison the PHB (real-kernel-testbed.md Hazards)',
    steps: [...spaprV2Setup(pages(4)), expectOk(remove('C', 0n)), expectErrno('EINVAL', create('C', 12, 3n << 29n))],
  },
  {
    name: 'sequence/dpdk: sPAPR v2 — registering hotplugged memory next to existing memory → 0 (disjoint regions)',
    modes: ['spapr-v2'],
    source: 'anchors.md (DPDK registers each memseg list separately)',
    steps: [
      ...spaprV2Setup(pages(4)),
      mmap('H', pages(4)),
      expectOk(register('C', buf('H'), pages(4))),
      expectOk(map('C', 0n, pages(1), buf('H'))),
      expectOk(unmap('C', 0n, pages(1))),
      expectOk(unregister('C', buf('H'), pages(4))),
    ],
  },
];
