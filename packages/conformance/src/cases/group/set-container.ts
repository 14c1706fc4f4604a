// SPDX-License-Identifier: MIT
import {
  attached,
  expectErrno,
  expectOk,
  fdOf,
  int,
  ioctl,
  modeType,
  openContainer,
  openGroup,
  withIommu,
} from '../../helpers.js';
import { allModes, type Env, type Scenario } from '../../types.js';

/**
 * A non-container fd given to SET_CONTAINER: EBADFD since the iommufd rework of group.c (6.2), EINVAL before
 * (6.1 `vfio_group_set_container`: `ret = -EINVAL; if (container) …`), as the x86_64 6.1 guest answers.
 */
const foreignFdErrno = (env: Env): string => (Number(env.facts.kernel) >= 602 ? 'EBADFD' : 'EINVAL');

export const scenarios: Scenario[] = [
  {
    name: 'group/set-container: a group that already has a container → EINVAL',
    modes: allModes,
    source: 'type1 §8 #8, spapr §13 #37',
    steps: [
      ...attached(),
      expectOk(openContainer('C2'), { ret: 'fd' }),
      expectErrno('EINVAL', ioctl('G', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C2') })),
    ],
  },
  {
    name: 'group/set-container: fd -1 → EBADF',
    modes: allModes,
    source: 'type1 §8 #20, spapr §13 #37',
    steps: [
      expectOk(openGroup(), { ret: 'fd' }),
      expectErrno('EBADF', ioctl('G', 'VFIO_GROUP_SET_CONTAINER', { intPtr: -1 })),
    ],
  },
  {
    name: 'group/set-container: an eventfd → EBADFD (EINVAL before 6.2)',
    modes: allModes,
    source: 'type1 §8 #20; real 6.1 guest: EINVAL (DIFFERENCES.md "foreign fd")',
    needs: { facts: ['kernel'] },
    steps: [
      expectOk(openGroup(), { ret: 'fd' }),
      { op: 'eventfd', as: 'E' },
      { ...ioctl('G', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('E') }), expect: { errno: foreignFdErrno } },
    ],
  },
  {
    name: 'group/set-container: the group fd itself → EBADFD (EINVAL before 6.2)',
    modes: allModes,
    source: 'type1 §2.2 SET_CONTAINER step 7; real 6.1 guest: EINVAL',
    needs: { facts: ['kernel'] },
    steps: [
      expectOk(openGroup(), { ret: 'fd' }),
      { ...ioctl('G', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('G') }), expect: { errno: foreignFdErrno } },
    ],
  },
  {
    name: 'group/set-container: into a container whose IOMMU is set (type1: attached at once)',
    modes: ['type1v2', 'type1v1'],
    source: 'type1 §2.2 SET_CONTAINER step 5',
    needs: { groups: 2 },
    steps: [
      ...withIommu(),
      expectOk(openGroup('G2', 1), { ret: 'fd' }),
      expectOk(ioctl('G2', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C') })),
      expectOk(ioctl('G2', 'VFIO_GROUP_GET_DEVICE_FD', { string: { device: 0, group: 1 } }), { ret: 'fd' }),
    ],
  },
  {
    name: 'group/set-container: sPAPR v1 holds one group: a second → EBUSY',
    modes: ['spapr-v1'],
    source: 'spapr §13 #29',
    needs: { groups: 2 },
    steps: [
      ...withIommu(),
      expectOk(openGroup('G2', 1), { ret: 'fd' }),
      expectErrno('EBUSY', ioctl('G2', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C') })),
    ],
  },
  {
    name: 'group/set-container: sPAPR v2 takes a second group of the same platform',
    modes: ['spapr-v2'],
    source: 'spapr §13 #30',
    needs: { groups: 2 },
    steps: [
      ...withIommu(),
      expectOk(openGroup('G2', 1), { ret: 'fd' }),
      expectOk(ioctl('G2', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C') })),
    ],
  },
  {
    name: 'group/set-container: two groups before SET_IOMMU, both attached by it',
    modes: ['type1v2', 'type1v1', 'spapr-v2'],
    source: 'type1 §2.1 SET_IOMMU (__vfio_container_attach_groups), spapr §4.2',
    needs: { groups: 2 },
    steps: [
      ...attached(),
      expectOk(openGroup('G2', 1), { ret: 'fd' }),
      expectOk(ioctl('G2', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C') })),
      expectOk(ioctl('C', 'VFIO_SET_IOMMU', int(modeType))),
    ],
  },
  {
    name: 'group/set-container: sPAPR v1 SET_IOMMU with two groups → EBUSY',
    modes: ['spapr-v1'],
    source: 'spapr §4.3 step 4',
    needs: { groups: 2 },
    steps: [
      ...attached(),
      expectOk(openGroup('G2', 1), { ret: 'fd' }),
      expectOk(ioctl('G2', 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf('C') })),
      expectErrno('EBUSY', ioctl('C', 'VFIO_SET_IOMMU', int(modeType))),
    ],
  },
];
