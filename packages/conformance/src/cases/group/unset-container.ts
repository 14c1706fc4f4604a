// SPDX-License-Identifier: MIT
import { close, device, expectErrno, expectOk, ioctl, openGroup, withIommu } from '../../helpers.js';
import { allModes, type Scenario } from '../../types.js';

const unset = ioctl('G', 'VFIO_GROUP_UNSET_CONTAINER');

export const scenarios: Scenario[] = [
  {
    name: 'group/unset-container: with a device fd open → EBUSY',
    modes: allModes,
    source: 'type1 §8 #17, spapr §13 #32',
    steps: [...withIommu(), device('D'), expectErrno('EBUSY', unset)],
  },
  {
    name: 'group/unset-container: after the device fd closed → 0; again → EINVAL',
    modes: allModes,
    source: 'type1 §8 #18',
    steps: [...withIommu(), device('D'), expectOk(close('D')), expectOk(unset), expectErrno('EINVAL', unset)],
  },
  {
    name: 'group/unset-container: never attached → EINVAL',
    modes: allModes,
    source: 'type1 §2.2 UNSET',
    steps: [expectOk(openGroup(), { ret: 'fd' }), expectErrno('EINVAL', unset)],
  },
  {
    name: 'group/unset-container: two device fds of one device: EBUSY until both closed',
    modes: allModes,
    source: 'type1 §2.2 GET_DEVICE_FD (container_users per device)',
    steps: [
      ...withIommu(),
      device('D'),
      device('D2'),
      expectOk(close('D')),
      expectErrno('EBUSY', unset),
      expectOk(close('D2')),
      expectOk(unset),
    ],
  },
];
