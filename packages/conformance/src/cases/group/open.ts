// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { close, expectErrno, expectOk, ioctl, openGroup, struct } from '../../helpers.js';
import { allModes, type Scenario } from '../../types.js';

export const scenarios: Scenario[] = [
  {
    name: 'group/open: a second open of an open group → EBUSY',
    modes: allModes,
    source: 'type1 §8 #6, spapr §13 #38',
    steps: [expectOk(openGroup('G'), { ret: 'fd' }), expectErrno('EBUSY', openGroup('G2'))],
  },
  {
    name: 'group/open: reopen after close → ok',
    modes: allModes,
    source: 'type1 §2.3',
    steps: [
      expectOk(openGroup('G'), { ret: 'fd' }),
      expectOk(close('G')),
      expectOk(openGroup('G'), { ret: 'fd' }),
      expectOk(ioctl('G', 'VFIO_GROUP_GET_STATUS', struct({})), { out: { flags: uapi.VFIO_GROUP_FLAGS_VIABLE } }),
    ],
  },
  {
    name: 'group/open: a VFIO ioctl on an fd that is not open → EBADF',
    modes: allModes,
    source: 'ioctl(2)',
    steps: [{ op: 'ioctl', fd: 100000, ioctl: 'VFIO_GROUP_GET_STATUS', arg: struct({}), expect: { errno: 'EBADF' } }],
  },
];
