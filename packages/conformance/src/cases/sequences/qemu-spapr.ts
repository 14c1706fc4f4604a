// SPDX-License-Identifier: MIT
/**
 * QEMU's sPAPR client sequence (hw/vfio/spapr.c, container.c; anchors.md): probe v2 and fall back to v1, pre-register
 * memory before creating windows, remove the default window, create its own with the levels from GET_INFO (retrying
 * with more levels), check start_addr, and use EEH only on a single-group container.
 */
import * as uapi from '@vfio-ts/uapi';
import {
  attached,
  buf,
  create,
  device,
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
  struct,
  tableCharge,
  unmap,
  unregister,
} from '../../helpers.js';
import type { Env, Scenario, Step } from '../../types.js';

const tce32 = (env: Env): bigint => BigInt(env.facts.tce32Size ?? 0);
/**
 * QEMU's first guess at the levels of a window (vfio_spapr_create_window): one level per 64 pages of table,
 * `ctz64(pow2ceil(table pages)) / 6 + 1`, never more than GET_INFO's ddw.levels.
 */
const qemuLevels =
  (windowSize: (env: Env) => bigint) =>
  (env: Env): number => {
    const entries = windowSize(env) >> 12n;
    const tablePages = (entries * 8n) / BigInt(env.pageSize);
    let pow = 1n;
    while (pow < tablePages) pow <<= 1n;
    const levels = Math.floor(pow.toString(2).length - 1) / 6 + 1;
    return Math.min(Math.floor(levels), Number(env.vars.levels ?? 1));
  };
const probe: Step[] = [
  ...attached(),
  expectOk(ioctl('C', 'VFIO_CHECK_EXTENSION', int(uapi.VFIO_SPAPR_TCE_v2_IOMMU)), { ret: 1 }),
  expectOk(ioctl('C', 'VFIO_SET_IOMMU', int(uapi.VFIO_SPAPR_TCE_v2_IOMMU))),
  {
    ...ioctl('C', 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', struct({})),
    expect: { out: { flags: uapi.VFIO_IOMMU_SPAPR_INFO_DDW } },
    save: { levels: 'ddw.levels' },
  },
];

export const scenarios: Scenario[] = [
  {
    name: 'sequence/qemu: v2 — register, remove the default window, create one at 0 with the reported levels, map, DMA, tear down',
    modes: ['spapr-v2'],
    source: 'anchors.md (QEMU hw/vfio/spapr.c: vfio_spapr_container_setup, vfio_spapr_create_window)',
    needs: { facts: ['tce32Size'], edu: true },
    steps: [
      ...probe,
      mmap('B', pages(16)),
      expectOk(register('C', buf('B'), pages(16))),
      expectOk(remove('C', 0n)),
      {
        ...create('C', 12, tce32, qemuLevels(tce32)),
        expect: { out: { startAddr: 0n } },
      },
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
      expectOk(unmap('C', 0x10000n, pages(2))),
      expectOk(remove('C', 0n)),
      expectOk(unregister('C', buf('B'), pages(16))),
      locked(0),
    ],
  },
  {
    name: 'sequence/qemu: v2 — memory is registered before the first window exists (no window charged yet)',
    modes: ['spapr-v2'],
    source: 'anchors.md (QEMU pre-registers through its memory listener before windows)',
    steps: [...probe, mmap('B', pages(4)), expectOk(register('C', buf('B'), pages(4))), locked(pages(4))],
  },
  {
    name: 'sequence/qemu: v2 — a second window is checked to start where GET_INFO said DDW windows go',
    modes: ['spapr-v2'],
    source: 'anchors.md (QEMU checks start_addr of each created window)',
    needs: { facts: ['ddwStart'] },
    steps: [
      ...probe,
      mmap('B', pages(4)),
      expectOk(register('C', buf('B'), pages(4))),
      expectOk(create('C', 16, 1n << 30n), { out: { startAddr: (env) => BigInt(env.facts.ddwStart ?? 0) } }),
    ],
  },
  {
    name: 'sequence/qemu: v2 — levels retry: too many levels fails, the reported levels succeed',
    modes: ['spapr-v2'],
    source: 'anchors.md (QEMU guesses DDW levels and retries with more)',
    realKernelHazard:
      'the failing TCE_CREATE leaks its charge and on pseries may poison the PHB until reboot (real-kernel-testbed.md Hazards)',
    steps: [
      ...probe,
      mmap('B', pages(4)),
      expectOk(register('C', buf('B'), pages(4))),
      expectOk(remove('C', 0n)),
      expectErrno('EINVAL', create('C', 12, 1n << 30n, 6)),
      expectOk(
        create(
          'C',
          12,
          1n << 30n,
          qemuLevels(() => 1n << 30n),
        ),
      ),
    ],
  },
  {
    name: 'sequence/qemu: v1 fallback — SET_IOMMU(v1), GET_INFO without DDW, ENABLE, MAP into the default window',
    modes: ['spapr-v1'],
    source: 'anchors.md (QEMU falls back to VFIO_SPAPR_TCE_IOMMU when v2 is refused)',
    needs: { facts: ['tce32Size'] },
    steps: [
      ...attached(),
      expectOk(ioctl('C', 'VFIO_CHECK_EXTENSION', int(uapi.VFIO_SPAPR_TCE_IOMMU)), { ret: 1 }),
      expectOk(ioctl('C', 'VFIO_SET_IOMMU', int(uapi.VFIO_SPAPR_TCE_IOMMU))),
      expectOk(ioctl('C', 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', struct({})), {
        out: { flags: 0, dma32WindowSize: (env) => Number(tce32(env)) },
      }),
      expectOk(ioctl('C', 'VFIO_IOMMU_ENABLE')),
      mmap('B', pages(2)),
      expectOk(map('C', 0n, pages(2))),
      locked((env) => tce32(env) + tableCharge(12, tce32)(env)),
      expectOk(unmap('C', 0n, pages(2))),
    ],
  },
  {
    name: 'sequence/qemu: v2 refused after success — no fallback once an IOMMU is set (SET_IOMMU v1 → EINVAL)',
    modes: ['spapr-v2'],
    source: 'anchors.md; spapr §4.2 step 1',
    steps: [...probe, expectErrno('EINVAL', ioctl('C', 'VFIO_SET_IOMMU', int(uapi.VFIO_SPAPR_TCE_IOMMU)))],
  },
  {
    name: 'sequence/qemu: EEH on a single-group container — CHECK_EXTENSION(EEH) then ENABLE',
    modes: ['spapr-v2', 'spapr-v1'],
    source: 'anchors.md (QEMU uses EEH only when the container holds one group)',
    steps: [
      ...attached(),
      expectOk(
        ioctl(
          'C',
          'VFIO_SET_IOMMU',
          int((env) => env.iommuType),
        ),
      ),
      expectOk(ioctl('C', 'VFIO_CHECK_EXTENSION', int(uapi.VFIO_EEH)), { ret: (env) => Number(env.facts.eeh ?? 0) }),
      {
        ...ioctl('C', 'VFIO_EEH_PE_OP', struct({ op: uapi.VFIO_EEH_PE_ENABLE })),
        expect: { errno: (env) => (env.facts.eeh ? undefined : 'ENODEV') },
      },
    ],
  },
];
