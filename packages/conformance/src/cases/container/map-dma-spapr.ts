// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import {
  buf,
  defaultWindowCharge,
  device,
  enableCharge,
  expectErrno,
  expectOk,
  ioctl,
  locked,
  map,
  mmap,
  pages,
  spaprV1Setup,
  unmap,
  withIommu,
} from '../../helpers.js';
import type { Env, Mode, Scenario, Step } from '../../types.js';

const V2 = ['spapr-v2'] as const;
const BOTH: readonly Mode[] = ['spapr-v2', 'spapr-v1'];
const regd = (env: Env): bigint => BigInt(16 * env.pageSize);
/** The mode's set-up: v2 registers B (16 pages), v1 enables (charging the 32-bit window). */
const setup = (): Step[] => [
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
const v1 = spaprV1Setup;
const base = (env: Env): bigint => (env.mode === 'spapr-v1' ? enableCharge(env) : regd(env));
const bothSetup = (mode: Mode): Step[] => (mode === 'spapr-v1' ? v1() : setup());
const perMode = (name: string, source: string, build: (mode: Mode) => Step[], modes = BOTH): Scenario[] =>
  modes.map((mode) => ({
    name: `container/map-dma (sPAPR ${mode}): ${name}`,
    modes: [mode],
    source,
    steps: build(mode),
  }));

export const scenarios: Scenario[] = [
  ...perMode('into the lazily created default window → 0; the window is charged', 'spapr §13 #10, #18', (m) => [
    ...bothSetup(m),
    expectOk(map('C', 0n, pages(4))),
    locked((env) => base(env) + defaultWindowCharge(env)),
  ]),
  ...perMode('the same iova again → 0 (replaced silently, Q8)', 'spapr §13 #10', (m) => [
    ...bothSetup(m),
    expectOk(map('C', 0n, pages(4))),
    expectOk(map('C', 0n, pages(4), buf('B', pages(4)))),
    locked((env) => base(env) + defaultWindowCharge(env)),
  ]),
  ...perMode('iova outside every window → ENXIO', 'spapr §13 #12', (m) => [
    ...bothSetup(m),
    expectErrno('ENXIO', map('C', 3n << 30n, pages(1))),
  ]),
  ...perMode(
    'iova not page-aligned inside the window → returns 1, nothing mapped (Q2)',
    'spapr §13 #12, §11 Q2',
    (m) => [...bothSetup(m), expectOk(map('C', 0x1001n, pages(1)), { ret: 1 })],
  ),
  ...perMode('size not page-aligned → EINVAL', 'spapr §13 #13', (m) => [
    ...bothSetup(m),
    expectErrno('EINVAL', map('C', 0n, 0x1800n)),
  ]),
  ...perMode('vaddr not page-aligned → EINVAL', 'spapr §13 #13', (m) => [
    ...bothSetup(m),
    expectErrno('EINVAL', map('C', 0n, pages(1), buf('B', 0x800))),
  ]),
  ...perMode('flags 0 → EINVAL (after the default window was created, Q5)', 'spapr §13 #13, §11 Q5', (m) => [
    ...bothSetup(m),
    expectErrno('EINVAL', map('C', 0n, pages(1), buf('B'), 0)),
    locked((env) => base(env) + defaultWindowCharge(env)),
  ]),
  ...perMode('flags VADDR → EINVAL, no window created', 'spapr §13 #13 (flags & ~3)', (m) => [
    ...bothSetup(m),
    expectErrno('EINVAL', map('C', 0n, pages(1), buf('B'), uapi.VFIO_DMA_MAP_FLAG_VADDR)),
    locked(base),
  ]),
  ...perMode('argsz 31 → EINVAL', 'spapr §4.6 step 4', (m) => [
    ...bothSetup(m),
    expectErrno(
      'EINVAL',
      ioctl('C', 'VFIO_IOMMU_MAP_DMA', { value: { argsz: 31, flags: 3, vaddr: buf('B'), size: 0x1000 } }),
    ),
  ]),
  ...perMode('size 0 → 0, nothing mapped, but the default window is created', 'spapr §13 #45', (m) => [
    ...bothSetup(m),
    expectOk(map('C', 0n, 0n)),
    locked((env) => base(env) + defaultWindowCharge(env)),
  ]),
  ...perMode('a range running past the end of the default window (kernel UB, Q3)', 'spapr §13 #48, §11 Q3', (m) => [
    ...bothSetup(m),
    {
      ...map('C', (env) => BigInt(env.facts.tce32Size ?? 0) - BigInt(env.pageSize), pages(4)),
      expect: { anyOutcome: true },
    },
  ]).map((s) => ({
    ...s,
    realKernelHazard:
      'MAP_DMA past the end of a window with a registered vaddr oopses the guest in tce_iommu_unuse_page_v2 and wedges VFIO (real-kernel-testbed.md Hazards)',
    doc: 'The result is kernel UB: the simulator answers deterministically and records a KernelUbEvent; only that it answers is checked.',
  })),
  {
    name: 'container/map-dma (sPAPR spapr-v2): vaddr outside every registered region → EINVAL',
    modes: V2,
    source: 'spapr §13 #11',
    steps: [...setup(), mmap('X', pages(1)), expectErrno('EINVAL', map('C', 0n, pages(1), buf('X')))],
  },
  {
    name: 'container/map-dma (sPAPR spapr-v2): a range crossing the end of its registered region → EINVAL, nothing left mapped',
    modes: V2,
    source: "spapr §8.3 (lookup per entry; on error the call's entries are cleared)",
    steps: [...setup(), mmap('X', pages(2)), expectErrno('EINVAL', map('C', 0n, pages(2), buf('B', pages(15))))],
  },
  {
    name: 'container/map-dma (sPAPR spapr-v1): MAP before ENABLE → EPERM',
    modes: ['spapr-v1'],
    source: 'spapr §13 #18',
    steps: [...withIommu(), mmap('B', pages(1)), expectErrno('EPERM', map('C', 0n, pages(1)))],
  },
  {
    name: 'container/map-dma (sPAPR spapr-v1): read-only memory → EFAULT, even for READ only',
    modes: ['spapr-v1'],
    source: 'spapr §13 #27 says READ-only → 0; the driver pins with FOLL_WRITE whatever the direction (DIFFERENCES.md)',
    steps: [
      ...v1(),
      mmap('R', pages(1), 'r'),
      expectErrno('EFAULT', map('C', 0n, pages(1), buf('R'))),
      expectErrno('EFAULT', map('C', 0n, pages(1), buf('R'), uapi.VFIO_DMA_MAP_FLAG_READ)),
    ],
  },
  {
    name: 'container/map-dma (sPAPR spapr-v1): unmapped memory → EFAULT',
    modes: ['spapr-v1'],
    source: 'spapr §13 #28',
    steps: [
      ...v1(),
      expectErrno(
        'EFAULT',
        map('C', 0n, pages(1), (env) => BigInt(env.pageSize)),
      ),
    ],
  },
  ...perMode(
    'edu DMA through the default window, blocked after UNMAP',
    'real-kernel-testbed.md (edu DMA; unmapped IOVA blocked)',
    (m) => [
      ...bothSetup(m),
      device('D'),
      expectOk(map('C', 0x10000n, pages(2))),
      {
        op: 'dma',
        device: 'D',
        iova: 0x10000n,
        buf: buf('B'),
        backIova: (env) => 0x10000n + BigInt(env.pageSize),
        backBuf: buf('B', pages(1)),
        expect: 'ok',
      },
      expectOk(unmap('C', (env) => 0x10000n + BigInt(env.pageSize), pages(1))),
      {
        op: 'dma',
        device: 'D',
        iova: 0x10000n,
        buf: buf('B'),
        backIova: (env) => 0x10000n + BigInt(env.pageSize),
        backBuf: buf('B', pages(1)),
        expect: 'blocked',
      },
    ],
  ).map((s) => ({ ...s, needs: { edu: true } })),
];
