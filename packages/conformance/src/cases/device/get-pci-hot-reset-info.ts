// SPDX-License-Identifier: MIT
import { device, expectErrno, ioctl, withIommu } from '../../helpers.js';
import type { Scenario } from '../../types.js';
import { allModes } from '../../types.js';

/**
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO (vfio_pci_core.c vfio_pci_ioctl_get_pci_hot_reset_info): argsz is checked,
 * then whether a slot or bus reset exists at all. The testbed's devices sit on a root bus with no bridge above
 * them (q35's bus 0; the pseries PHB's root bus): neither probe succeeds, so every call with a valid header is
 * ENODEV, before the argsz-too-small (ENOSPC, count written back) path could be reached.
 */
const D = [...withIommu(), device('D')];
const info = (argsz: number, size?: number) =>
  ioctl('D', 'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO', { value: { argsz }, ...(size !== undefined ? { size } : {}) });
const dev = (name: string, steps: Scenario['steps']): Scenario => ({
  name: `device/get-pci-hot-reset-info: ${name}`,
  modes: allModes,
  source: 'vfio_pci_core.c vfio_pci_ioctl_get_pci_hot_reset_info; real-kernel-testbed.md',
  needs: { edu: true },
  steps: [...D, ...steps],
});

export const scenarios: Scenario[] = [
  dev('argsz 11 → EINVAL', [expectErrno('EINVAL', info(11))]),
  dev('argsz 12 (no room for a device) on a root-bus device → ENODEV (no slot or bus reset)', [
    expectErrno('ENODEV', info(12)),
  ]),
  dev('argsz with room for 8 devices on a root-bus device → ENODEV', [expectErrno('ENODEV', info(76, 76))]),
];
