// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import {
  attached,
  close,
  expectErrno,
  expectOk,
  int,
  ioctl,
  modeType,
  openContainer,
  withIommu,
} from '../../helpers.js';
import { allModes, type Env, type Scenario, spaprModes, type1Modes } from '../../types.js';

const otherFamily = (env: Env): number =>
  env.mode.startsWith('spapr') ? uapi.VFIO_TYPE1v2_IOMMU : uapi.VFIO_SPAPR_TCE_v2_IOMMU;

export const scenarios: Scenario[] = [
  {
    name: 'container/set-iommu: no group attached → EINVAL',
    modes: allModes,
    source: 'type1 §8 #3, spapr §13 #2',
    steps: [
      expectOk(openContainer(), { ret: 'fd' }),
      expectErrno('EINVAL', ioctl('C', 'VFIO_SET_IOMMU', int(modeType))),
    ],
  },
  {
    name: 'container/set-iommu: succeeds once, a second time → EINVAL',
    modes: allModes,
    source: 'type1 §8 #12, spapr §13 #3',
    steps: [...withIommu(), expectErrno('EINVAL', ioctl('C', 'VFIO_SET_IOMMU', int(modeType)))],
  },
  {
    name: "container/set-iommu: the other family's type → ENODEV",
    modes: allModes,
    source: 'type1 §2.1 (no backend claims it), spapr §13 #3',
    steps: [...attached(), expectErrno('ENODEV', ioctl('C', 'VFIO_SET_IOMMU', int(otherFamily)))],
  },
  {
    name: 'container/set-iommu: an unknown type (42) → ENODEV',
    modes: allModes,
    source: 'type1 §8 #11',
    steps: [...attached(), expectErrno('ENODEV', ioctl('C', 'VFIO_SET_IOMMU', int(42)))],
  },
  {
    name: 'container/set-iommu: VFIO_NOIOMMU_IOMMU with a real group → ENODEV',
    modes: allModes,
    source: 'type1 §2.1 (noiommu backend absent on Debian kernels)',
    steps: [...attached(), expectErrno('ENODEV', ioctl('C', 'VFIO_SET_IOMMU', int(uapi.VFIO_NOIOMMU_IOMMU)))],
  },
  {
    name: 'container/set-iommu: VFIO_EEH → EINVAL with EEH on, ENODEV with it off',
    modes: spaprModes,
    source: 'spapr §13 #47',
    steps: [
      ...attached(),
      {
        ...ioctl('C', 'VFIO_SET_IOMMU', int(uapi.VFIO_EEH)),
        expect: { errno: (env) => (env.facts.eeh ? 'EINVAL' : 'ENODEV') },
      },
    ],
  },
  {
    name: 'container/set-iommu: type1 v1 and v2 are both offered by type1 (TYPE1 after a failed TYPE1v2 probe)',
    modes: type1Modes,
    source: 'type1 §2.1 (SET_IOMMU(1) gives v1, (3) v2)',
    steps: [
      ...attached(),
      expectOk(ioctl('C', 'VFIO_CHECK_EXTENSION', int(uapi.VFIO_TYPE1v2_IOMMU)), { ret: 1 }),
      expectOk(ioctl('C', 'VFIO_SET_IOMMU', int(modeType))),
      expectOk(ioctl('C', 'VFIO_CHECK_EXTENSION', int(modeType)), { ret: 1 }),
    ],
  },
  {
    name: 'container/set-iommu: after the last group left, SET_IOMMU → EINVAL again (back to the initial state)',
    modes: allModes,
    source: 'type1 §2.2 UNSET (last group: release), spapr §13 #33',
    steps: [
      ...withIommu(),
      expectOk(ioctl('G', 'VFIO_GROUP_UNSET_CONTAINER')),
      expectErrno('EINVAL', ioctl('C', 'VFIO_SET_IOMMU', int(modeType))),
    ],
  },
  {
    name: 'container/set-iommu: works again after the group is re-attached',
    modes: allModes,
    source: 'type1 §2.2 UNSET (container back to initial state)',
    steps: [
      ...withIommu(),
      expectOk(ioctl('G', 'VFIO_GROUP_UNSET_CONTAINER')),
      expectOk(ioctl('G', 'VFIO_GROUP_SET_CONTAINER', { intPtr: { fd: 'C' } })),
      expectOk(ioctl('C', 'VFIO_SET_IOMMU', int(modeType))),
    ],
  },
  {
    name: 'container/set-iommu: closing the group fd releases the driver',
    modes: allModes,
    source: 'type1 §2.3 (close group fd, no device open)',
    steps: [...withIommu(), expectOk(close('G')), expectErrno('EINVAL', ioctl('C', 'VFIO_SET_IOMMU', int(modeType)))],
  },
];
