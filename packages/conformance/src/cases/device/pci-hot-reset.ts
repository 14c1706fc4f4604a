// SPDX-License-Identifier: MIT

import { device, expectErrno, fdOf, ioctl, withIommu } from '../../helpers.js';
import type { Env, Scenario } from '../../types.js';
import { allModes } from '../../types.js';

/**
 * VFIO_DEVICE_PCI_HOT_RESET (vfio_pci_core.c vfio_pci_ioctl_pci_hot_reset) on a root-bus device, which has no slot
 * or bus reset (see get-pci-hot-reset-info.ts): nothing is ever reset. From 6.5 a zero-length group array is
 * refused for a group-opened device before the reset probe; 6.1 probes first (ENODEV).
 */
const D = [...withIommu(), device('D')];
const reset = (argsz: number, flags: number) =>
  ioctl('D', 'VFIO_DEVICE_PCI_HOT_RESET', { value: { argsz, flags, count: 0 } });
/**
 * argsz, flags 0, count 1, group_fds[0] = G. Laid out as the 8-byte vfio_device_feature header plus two `__s32`s:
 * the runner decodes the written-back struct from its fixed part only, where a vfio_pci_hot_reset with count 1
 * would claim an array it cannot see.
 */
const resetWithGroup = () =>
  ioctl('D', 'VFIO_DEVICE_PCI_HOT_RESET', {
    struct: 'vfio_device_feature',
    value: { argsz: 16, flags: 0 },
    tailInts: [1, fdOf('G')],
  });
const dev = (name: string, steps: Scenario['steps'], facts?: string[]): Scenario => ({
  name: `device/pci-hot-reset: ${name}`,
  modes: allModes,
  source: 'vfio_pci_core.c vfio_pci_ioctl_pci_hot_reset',
  needs: { edu: true, ...(facts ? { facts } : {}) },
  steps: [...D, ...steps],
});
const countZero = (env: Env): string => (Number(env.facts.kernel) >= 605 ? 'EINVAL' : 'ENODEV');

export const scenarios: Scenario[] = [
  dev('argsz 11 → EINVAL', [expectErrno('EINVAL', reset(11, 0))]),
  dev('flags 1 → EINVAL', [expectErrno('EINVAL', reset(12, 1))]),
  dev(
    'count 0 from a group-opened fd → EINVAL from 6.5 (cdev only), ENODEV before',
    [{ ...reset(12, 0), expect: { errno: countZero } }],
    ['kernel'],
  ),
  dev('the group fd, root-bus device → ENODEV (no slot or bus reset; nothing is reset)', [
    expectErrno('ENODEV', resetWithGroup()),
  ]),
];
