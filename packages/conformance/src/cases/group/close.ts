// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import {
  buf,
  close,
  device,
  expectErrno,
  expectOk,
  ioctl,
  locked,
  map,
  mmap,
  openGroup,
  pages,
  spaprV2Setup,
  struct,
  unmap,
  withIommu,
} from '../../helpers.js';
import { allModes, type Scenario } from '../../types.js';

export const scenarios: Scenario[] = [
  {
    name: 'group/close: with a device fd open the group stays busy until the device closes',
    modes: allModes,
    source: 'type1 §8 #50',
    steps: [
      ...withIommu(),
      device('D'),
      expectOk(close('G')),
      expectErrno('EBUSY', openGroup('G')),
      expectOk(close('D')),
      expectOk(openGroup('G'), { ret: 'fd' }),
      expectOk(ioctl('G', 'VFIO_GROUP_GET_STATUS', struct({})), { out: { flags: uapi.VFIO_GROUP_FLAGS_VIABLE } }),
    ],
  },
  {
    name: 'group/close: closing the container keeps it alive while the group is attached; the device still works',
    modes: allModes,
    source: 'type1 §8 #49, spapr §13 #34',
    steps: [
      ...withIommu(),
      device('D'),
      expectOk(close('C')),
      expectOk(ioctl('D', 'VFIO_DEVICE_GET_INFO', struct({})), { out: { numIrqs: 5 } }),
      expectOk(close('D')),
      expectOk(ioctl('G', 'VFIO_GROUP_UNSET_CONTAINER')),
    ],
  },
  {
    name: 'group/close: type1 mappings are released with the last group',
    modes: ['type1v2', 'type1v1'],
    source: 'type1 §8 #48',
    steps: [
      ...withIommu(),
      mmap('B', pages(2)),
      expectOk(map('C', 0x100000n, pages(2))),
      locked(pages(2)),
      expectOk(close('G')),
      locked(0),
    ],
  },
  {
    name: 'group/close: sPAPR v2 windows and registrations are released with the last group',
    modes: ['spapr-v2'],
    source: 'spapr §13 #33',
    steps: [
      ...spaprV2Setup(),
      expectOk(map('C', 0n, pages(2))),
      expectOk(close('G')),
      locked(0),
      expectErrno('EINVAL', map('C', 0n, pages(2))),
    ],
  },
  {
    name: 'group/close: sPAPR v1 ENABLE charge and default window are released with the last group',
    modes: ['spapr-v1'],
    source: 'spapr §6.2 step 4',
    steps: [
      ...withIommu(),
      mmap('B', pages(1)),
      expectOk(ioctl('C', 'VFIO_IOMMU_ENABLE')),
      expectOk(map('C', 0n, pages(1))),
      expectOk(unmap('C', 0n, pages(1))),
      expectOk(ioctl('G', 'VFIO_GROUP_UNSET_CONTAINER')),
      locked(0),
    ],
  },
  {
    name: 'group/close: detaching wipes every TCE (the window stays charged until release)',
    modes: ['spapr-v2'],
    source: 'spapr §13 #31, §11 Q6',
    needs: { groups: 2 },
    steps: [
      ...spaprV2Setup(),
      expectOk(openGroup('G2', 1), { ret: 'fd' }),
      expectOk(ioctl('G2', 'VFIO_GROUP_SET_CONTAINER', { intPtr: { fd: 'C' } })),
      expectOk(map('C', 0n, pages(1), buf('B'))),
      expectOk(ioctl('G2', 'VFIO_GROUP_UNSET_CONTAINER')),
      expectOk(ioctl('C', 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', struct({ vaddr: buf('B'), size: pages(16) }))),
    ],
  },
];
