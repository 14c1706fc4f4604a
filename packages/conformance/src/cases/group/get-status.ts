// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { attached, expectErrno, expectOk, ioctl, openGroup, struct, withIommu } from '../../helpers.js';
import { allModes, type Scenario } from '../../types.js';

const VIABLE = uapi.VFIO_GROUP_FLAGS_VIABLE;
const SET = uapi.VFIO_GROUP_FLAGS_CONTAINER_SET;
const status = (value = {}) => ioctl('G', 'VFIO_GROUP_GET_STATUS', struct(value));

export const scenarios: Scenario[] = [
  {
    name: 'group/get-status: a fresh viable group → VIABLE',
    modes: allModes,
    source: 'type1 §8 #4',
    steps: [expectOk(openGroup(), { ret: 'fd' }), expectOk(status(), { out: { flags: VIABLE, argsz: 8 } })],
  },
  {
    name: 'group/get-status: argsz 4 → EINVAL',
    modes: allModes,
    source: 'type1 §8 #5',
    steps: [expectOk(openGroup(), { ret: 'fd' }), expectErrno('EINVAL', status({ argsz: 4 }))],
  },
  {
    name: 'group/get-status: the input flags are overwritten',
    modes: allModes,
    source: 'type1 §2.2 GET_STATUS',
    steps: [expectOk(openGroup(), { ret: 'fd' }), expectOk(status({ flags: 0xf0 }), { out: { flags: VIABLE } })],
  },
  {
    name: 'group/get-status: attached → VIABLE|CONTAINER_SET',
    modes: allModes,
    source: 'type1 §8 #7, spapr §13 #3',
    steps: [...attached(), expectOk(status(), { out: { flags: VIABLE | SET } })],
  },
  {
    name: 'group/get-status: after UNSET_CONTAINER → VIABLE',
    modes: allModes,
    source: 'type1 §8 #18',
    steps: [
      ...withIommu(),
      expectOk(ioctl('G', 'VFIO_GROUP_UNSET_CONTAINER')),
      expectOk(status(), { out: { flags: VIABLE } }),
    ],
  },
];
