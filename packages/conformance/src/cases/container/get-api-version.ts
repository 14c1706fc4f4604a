// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { expectOk, ioctl, openContainer, withIommu } from '../../helpers.js';
import { allModes, type Scenario } from '../../types.js';

export const scenarios: Scenario[] = [
  {
    name: 'container/get-api-version: a fresh container answers VFIO_API_VERSION',
    modes: allModes,
    source: 'type1 §8 #1, spapr §13 #1',
    steps: [
      expectOk(openContainer(), { ret: 'fd' }),
      expectOk(ioctl('C', 'VFIO_GET_API_VERSION'), { ret: uapi.VFIO_API_VERSION }),
    ],
  },
  {
    name: 'container/get-api-version: unchanged once an IOMMU is set',
    modes: allModes,
    source: 'type1 §2.1 (always)',
    steps: [...withIommu(), expectOk(ioctl('C', 'VFIO_GET_API_VERSION'), { ret: uapi.VFIO_API_VERSION })],
  },
];
