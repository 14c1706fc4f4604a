// SPDX-License-Identifier: MIT
import { device, expectErrno, ioctl, struct, withIommu } from '../../helpers.js';
import type { Scenario } from '../../types.js';
import { allModes } from '../../types.js';

/** cdev-only: on a group-opened fd the request skips the cdev switch and vfio-pci's ioctl answers ENOTTY. */
export const scenarios: Scenario[] = [
  {
    name: 'device/detach-iommufd-pt: on a group-opened device fd → ENOTTY',
    modes: allModes,
    source: 'vfio_main.c vfio_device_fops_unl_ioctl (cdev only when !df->group)',
    needs: { edu: true },
    steps: [
      ...withIommu(),
      device('D'),
      expectErrno('ENOTTY', ioctl('D', 'VFIO_DEVICE_DETACH_IOMMUFD_PT', struct({}))),
    ],
  },
];
