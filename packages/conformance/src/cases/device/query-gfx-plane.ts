// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { device, expectErrno, ioctl, struct, withIommu } from '../../helpers.js';
import type { Scenario } from '../../types.js';
import { allModes } from '../../types.js';

/** Only mdev graphics drivers (i915 GVT-g, mbochs) implement it; vfio-pci's ioctl falls to its default → ENOTTY. */
const D = [...withIommu(), device('D')];
const dev = (name: string, steps: Scenario['steps']): Scenario => ({
  name: `device/query-gfx-plane: ${name}`,
  modes: allModes,
  source: 'vfio_pci_core.c vfio_pci_core_ioctl (default)',
  needs: { edu: true },
  steps: [...D, ...steps],
});
const q = (value: Record<string, number>) => ioctl('D', 'VFIO_DEVICE_QUERY_GFX_PLANE', struct(value));

export const scenarios: Scenario[] = [
  dev('PROBE|DMABUF on a vfio-pci device → ENOTTY', [
    expectErrno('ENOTTY', q({ flags: uapi.VFIO_GFX_PLANE_TYPE_PROBE | uapi.VFIO_GFX_PLANE_TYPE_DMABUF })),
  ]),
  dev('PROBE|REGION on a vfio-pci device → ENOTTY', [
    expectErrno('ENOTTY', q({ flags: uapi.VFIO_GFX_PLANE_TYPE_PROBE | uapi.VFIO_GFX_PLANE_TYPE_REGION })),
  ]),
  dev('argsz 0, flags 0 → ENOTTY (no argsz check before the dispatch)', [expectErrno('ENOTTY', q({ argsz: 0 }))]),
];
