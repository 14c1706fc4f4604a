// SPDX-License-Identifier: MIT
import { device, expectErrno, ioctl, withIommu } from '../../helpers.js';
import type { Scenario } from '../../types.js';
import { allModes } from '../../types.js';

/** Only mdev graphics drivers implement it; vfio-pci's ioctl falls to its default → ENOTTY. */
export const scenarios: Scenario[] = [
  {
    name: 'device/get-gfx-dmabuf: dmabuf id 0 on a vfio-pci device → ENOTTY',
    modes: allModes,
    source: 'vfio_pci_core.c vfio_pci_core_ioctl (default)',
    needs: { edu: true },
    steps: [
      ...withIommu(),
      device('D'),
      expectErrno('ENOTTY', ioctl('D', 'VFIO_DEVICE_GET_GFX_DMABUF', { intPtr: 0 })),
    ],
  },
];
