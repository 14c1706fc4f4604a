// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { device, expectErrno, expectOk, fdOf, ioctl, withIommu } from '../../helpers.js';
import type { FdRef, Scenario } from '../../types.js';
import { allModes } from '../../types.js';

/** VFIO_DEVICE_FEATURE on a group-opened vfio-pci device (vfio_main.c vfio_ioctl_device_feature →
 * vfio_pci_core_ioctl_feature): only the runtime-PM features; edu has no migration, DMA logging or VF token. */
const D = [...withIommu(), device('D')];
const PROBE = uapi.VFIO_DEVICE_FEATURE_PROBE;
const GET = uapi.VFIO_DEVICE_FEATURE_GET;
const SET = uapi.VFIO_DEVICE_FEATURE_SET;
const ENTRY = uapi.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY;
const WAKEUP = uapi.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP;
const EXIT = uapi.VFIO_DEVICE_FEATURE_LOW_POWER_EXIT;
/** The header is 8 bytes; `data` carries the feature's own struct as `__s32`s. */
const feature = (flags: number, data: (FdRef | number)[] = [], argsz?: number) =>
  ioctl('D', 'VFIO_DEVICE_FEATURE', {
    value: { argsz: argsz ?? 8 + 4 * data.length, flags },
    ...(data.length > 0 ? { tailInts: data } : {}),
  });
const dev = (name: string, source: string, steps: Scenario['steps']): Scenario => ({
  name: `device/feature: ${name}`,
  modes: allModes,
  source,
  needs: { edu: true },
  steps: [...D, ...steps],
});
const SRC = 'vfio_main.c vfio_ioctl_device_feature';
const PM = 'vfio_pci_core.c vfio_pci_core_pm_entry / vfio_check_feature';

export const scenarios: Scenario[] = [
  dev('argsz 7 → EINVAL', SRC, [expectErrno('EINVAL', feature(PROBE | SET | ENTRY, [], 7))]),
  dev('an unknown flag bit (1 << 19) → EINVAL', SRC, [expectErrno('EINVAL', feature((1 << 19) | PROBE | SET | ENTRY))]),
  dev('GET|SET without PROBE → EINVAL', SRC, [expectErrno('EINVAL', feature(GET | SET | ENTRY))]),
  dev('neither GET, SET nor PROBE → EINVAL', PM, [expectErrno('EINVAL', feature(ENTRY))]),
  dev('PROBE|SET LOW_POWER_ENTRY → 0', PM, [expectOk(feature(PROBE | SET | ENTRY))]),
  dev('PROBE alone LOW_POWER_ENTRY → 0', PM, [expectOk(feature(PROBE | ENTRY))]),
  dev('PROBE|GET LOW_POWER_ENTRY (SET only) → EINVAL', PM, [expectErrno('EINVAL', feature(PROBE | GET | ENTRY))]),
  dev('PROBE|GET|SET LOW_POWER_EXIT (SET only) → EINVAL', PM, [
    expectErrno('EINVAL', feature(PROBE | GET | SET | EXIT)),
  ]),
  dev('PROBE|SET LOW_POWER_EXIT → 0', PM, [expectOk(feature(PROBE | SET | EXIT))]),
  dev('PROBE|SET LOW_POWER_ENTRY_WITH_WAKEUP with no data → 0 (PROBE before the size check)', PM, [
    expectOk(feature(PROBE | SET | WAKEUP)),
  ]),
  dev('SET LOW_POWER_ENTRY_WITH_WAKEUP with no data → EINVAL', PM, [expectErrno('EINVAL', feature(SET | WAKEUP))]),
  dev('SET LOW_POWER_ENTRY_WITH_WAKEUP, wakeup_eventfd -1 → EINVAL', PM, [
    expectErrno('EINVAL', feature(SET | WAKEUP, [-1, 0])),
  ]),
  dev('SET LOW_POWER_ENTRY_WITH_WAKEUP, wakeup_eventfd = the group fd → EINVAL', PM, [
    expectErrno('EINVAL', feature(SET | WAKEUP, [fdOf('G'), 0])),
  ]),
  dev('SET LOW_POWER_ENTRY_WITH_WAKEUP, wakeup_eventfd not open → EBADF', PM, [
    expectErrno('EBADF', feature(SET | WAKEUP, [4000, 0])),
  ]),
  dev('SET LOW_POWER_ENTRY_WITH_WAKEUP → 0, then EXIT → 0', PM, [
    { op: 'eventfd', as: 'E' },
    expectOk(feature(SET | WAKEUP, [fdOf('E'), 0])),
    expectOk(feature(SET | EXIT)),
  ]),
  dev(
    'SET LOW_POWER_ENTRY → 0, again → EINVAL (engaged), EXIT → 0, EXIT again → 0, ENTRY → 0, close engaged',
    'vfio_pci_core.c vfio_pci_runtime_pm_entry / vfio_pci_core_pm_exit / vfio_pci_core_disable',
    [
      expectOk(feature(SET | ENTRY)),
      expectErrno('EINVAL', feature(SET | ENTRY)),
      expectOk(feature(SET | EXIT)),
      expectOk(feature(SET | EXIT)),
      expectOk(feature(SET | ENTRY)),
    ],
  ),
  dev('GET LOW_POWER_ENTRY → EINVAL', PM, [expectErrno('EINVAL', feature(GET | ENTRY))]),
  dev('PROBE|SET PCI_VF_TOKEN on a device that is no SR-IOV PF → ENOTTY', 'vfio_pci_core_feature_token', [
    expectErrno('ENOTTY', feature(PROBE | SET | uapi.VFIO_DEVICE_FEATURE_PCI_VF_TOKEN)),
  ]),
  dev('PROBE|GET MIGRATION without migration support → ENOTTY', SRC, [
    expectErrno('ENOTTY', feature(PROBE | GET | uapi.VFIO_DEVICE_FEATURE_MIGRATION)),
  ]),
  dev('PROBE|SET MIG_DEVICE_STATE without migration support → ENOTTY', SRC, [
    expectErrno('ENOTTY', feature(PROBE | SET | uapi.VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE)),
  ]),
  dev('PROBE|SET DMA_LOGGING_START without logging support → ENOTTY', SRC, [
    expectErrno('ENOTTY', feature(PROBE | SET | uapi.VFIO_DEVICE_FEATURE_DMA_LOGGING_START)),
  ]),
  dev('PROBE|GET an unknown feature (0xffff) → ENOTTY', SRC, [expectErrno('ENOTTY', feature(PROBE | GET | 0xffff))]),
];
