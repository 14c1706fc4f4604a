// SPDX-License-Identifier: MIT
import { expectErrno, expectOk, ioctl, map, openContainer, struct, withIommu } from '../../helpers.js';
import { allModes, type Scenario, spaprModes, type1Modes } from '../../types.js';

// An ioctl number past the last VFIO container ioctl (VFIO_EEH_PE_OP + 6): derived, never typed.
const unknown = { ...ioctl('C', 'VFIO_EEH_PE_OP'), requestDelta: 6 } as const;

export const scenarios: Scenario[] = [
  {
    name: 'container/unknown-ioctl: before SET_IOMMU any IOMMU ioctl → EINVAL (not ENOTTY)',
    modes: allModes,
    source: 'type1 §8 #22, spapr §4.1.4',
    steps: [expectOk(openContainer(), { ret: 'fd' }), expectErrno('EINVAL', unknown)],
  },
  {
    name: 'container/unknown-ioctl: MAP_DMA before SET_IOMMU → EINVAL',
    modes: allModes,
    source: 'type1 §8 #10, spapr §13 #2',
    steps: [expectOk(openContainer(), { ret: 'fd' }), expectErrno('EINVAL', map('C', 0x100000n, 0x1000n, 0n))],
  },
  {
    name: 'container/unknown-ioctl: GET_INFO before SET_IOMMU → EINVAL',
    modes: type1Modes,
    source: 'type1 §8 #10',
    steps: [
      expectOk(openContainer(), { ret: 'fd' }),
      expectErrno('EINVAL', ioctl('C', 'VFIO_IOMMU_GET_INFO', struct({}))),
    ],
  },
  {
    name: 'container/unknown-ioctl: SPAPR_TCE_GET_INFO before SET_IOMMU → EINVAL',
    modes: spaprModes,
    source: 'spapr §10 (no driver)',
    steps: [
      expectOk(openContainer(), { ret: 'fd' }),
      expectErrno('EINVAL', ioctl('C', 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', struct({}))),
    ],
  },
  {
    name: 'container/unknown-ioctl: after SET_IOMMU an unknown number → ENOTTY',
    modes: allModes,
    source: 'type1 §8 #22, spapr §13 #19',
    steps: [...withIommu(), expectErrno('ENOTTY', unknown)],
  },
  ...(['VFIO_IOMMU_ENABLE', 'VFIO_IOMMU_DISABLE', 'VFIO_EEH_PE_OP'] as const).map(
    (name): Scenario => ({
      name: `container/unknown-ioctl: type1 has no ${name} → ENOTTY`,
      modes: type1Modes,
      source: 'type1 §3.4 (other ioctls on a type1 container → ENOTTY)',
      steps: [
        ...withIommu(),
        expectErrno('ENOTTY', ioctl('C', name, name === 'VFIO_EEH_PE_OP' ? struct({}) : undefined)),
      ],
    }),
  ),
  ...(
    ['VFIO_IOMMU_SPAPR_TCE_CREATE', 'VFIO_IOMMU_SPAPR_TCE_REMOVE', 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY'] as const
  ).map(
    (name): Scenario => ({
      name: `container/unknown-ioctl: type1 answers ${name}'s number with ENOTTY`,
      modes: type1Modes,
      source: 'type1 §3.4; anchors.md fact 2 (numbers alias across backends)',
      steps: [...withIommu(), expectErrno('ENOTTY', ioctl('C', name, struct({})))],
    }),
  ),
  {
    name: "container/unknown-ioctl: REGISTER_MEMORY's number on type1 is DIRTY_PAGES (flags 0 → EINVAL)",
    modes: ['type1v2'],
    source: 'anchors.md fact 2; type1 §3.4 (not exactly one flag → EINVAL)',
    steps: [...withIommu(), expectErrno('EINVAL', ioctl('C', 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', struct({})))],
  },
  ...(
    [
      'VFIO_IOMMU_SPAPR_REGISTER_MEMORY',
      'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY',
      'VFIO_IOMMU_SPAPR_TCE_CREATE',
      'VFIO_IOMMU_SPAPR_TCE_REMOVE',
    ] as const
  ).map(
    (name): Scenario => ({
      name: `container/unknown-ioctl: sPAPR v1 has no ${name} → ENOTTY`,
      modes: ['spapr-v1'],
      source: 'spapr §13 #19',
      steps: [...withIommu(), expectErrno('ENOTTY', ioctl('C', name, struct({})))],
    }),
  ),
  ...(['VFIO_IOMMU_ENABLE', 'VFIO_IOMMU_DISABLE'] as const).map(
    (name): Scenario => ({
      name: `container/unknown-ioctl: sPAPR v2 has no ${name} → ENOTTY`,
      modes: ['spapr-v2'],
      source: 'spapr §13 #19',
      steps: [...withIommu(), expectErrno('ENOTTY', ioctl('C', name))],
    }),
  ),
];
