// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { device, expectErrno, expectOk, fdOf, ioctl, withIommu } from '../../helpers.js';
import type { FdRef, Scenario } from '../../types.js';
import { allModes } from '../../types.js';

/**
 * VFIO_DEVICE_IOEVENTFD on edu's BAR0 (vfio_pci_core.c vfio_pci_ioctl_ioeventfd → vfio_pci_rdwr.c
 * vfio_pci_ioeventfd). The eventfds are never signalled: no write reaches the device. 0x04 is edu's liveness
 * register (a write there only inverts what it reads back).
 */
const D = [...withIommu(), device('D')];
const S4 = uapi.VFIO_DEVICE_IOEVENTFD_32;
const BAR0 = BigInt(uapi.VFIO_PCI_BAR0_REGION_INDEX) << 40n;
const BAR1 = BigInt(uapi.VFIO_PCI_BAR1_REGION_INDEX) << 40n;
const CONFIG = BigInt(uapi.VFIO_PCI_CONFIG_REGION_INDEX) << 40n;
const ev = (flags: number, offset: bigint, fd: FdRef | number, data = 0x1234_5678n, argsz?: number) =>
  ioctl('D', 'VFIO_DEVICE_IOEVENTFD', {
    value: { ...(argsz !== undefined ? { argsz } : {}), flags, offset, data, fd },
  });
const dev = (name: string, source: string, steps: Scenario['steps']): Scenario => ({
  name: `device/ioeventfd: ${name}`,
  modes: allModes,
  source,
  needs: { edu: true },
  steps: [...D, { op: 'eventfd', as: 'E' }, ...steps],
});
const IOCTL = 'vfio_pci_core.c vfio_pci_ioctl_ioeventfd';
const RDWR = 'vfio_pci_rdwr.c vfio_pci_ioeventfd';
const E = fdOf('E');

export const scenarios: Scenario[] = [
  dev('argsz 27 → EINVAL', IOCTL, [expectErrno('EINVAL', ev(S4, BAR0 + 4n, E, undefined, 27))]),
  dev('no size flag → EINVAL', IOCTL, [expectErrno('EINVAL', ev(0, BAR0 + 4n, E))]),
  dev('two size flags (8|16) → EINVAL', IOCTL, [expectErrno('EINVAL', ev(3, BAR0 + 4n, E))]),
  dev('an unknown flag (0x10) → EINVAL', IOCTL, [expectErrno('EINVAL', ev(0x10 | S4, BAR0 + 4n, E))]),
  dev('fd -2 → EINVAL', IOCTL, [expectErrno('EINVAL', ev(S4, BAR0 + 4n, -2))]),
  dev('32-bit at BAR0+4 → 0, the same again → EEXIST, de-assign (fd -1) → 0, again → ENODEV', RDWR, [
    expectOk(ev(S4, BAR0 + 4n, E)),
    expectErrno('EEXIST', ev(S4, BAR0 + 4n, E)),
    expectOk(ev(S4, BAR0 + 4n, -1)),
    expectErrno('ENODEV', ev(S4, BAR0 + 4n, -1)),
  ]),
  dev('same offset, other data or size → distinct ioeventfds, each de-assigned by its own key', RDWR, [
    expectOk(ev(S4, BAR0 + 4n, E)),
    expectOk(ev(S4, BAR0 + 4n, E, 0x1n)),
    expectOk(ev(uapi.VFIO_DEVICE_IOEVENTFD_16, BAR0 + 4n, E)),
    expectErrno('ENODEV', ev(S4, BAR0 + 4n, -1, 0x2n)),
    expectOk(ev(S4, BAR0 + 4n, -1, 0x1n)),
    expectOk(ev(uapi.VFIO_DEVICE_IOEVENTFD_16, BAR0 + 4n, -1)),
    expectOk(ev(S4, BAR0 + 4n, -1)),
  ]),
  dev('8-, 16- and 64-bit sizes → 0', RDWR, [
    expectOk(ev(uapi.VFIO_DEVICE_IOEVENTFD_8, BAR0 + 4n, E, 0x12n)),
    expectOk(ev(uapi.VFIO_DEVICE_IOEVENTFD_16, BAR0 + 4n, E, 0x1234n)),
    expectOk(ev(uapi.VFIO_DEVICE_IOEVENTFD_64, BAR0 + 8n, E)),
  ]),
  dev('de-assign of nothing → ENODEV', RDWR, [expectErrno('ENODEV', ev(S4, BAR0 + 4n, -1))]),
  dev('4 bytes at BAR0 + 1 MiB - 2 (past the end) → EINVAL', RDWR, [
    expectErrno('EINVAL', ev(S4, BAR0 + (1n << 20n) - 2n, E)),
  ]),
  dev('4 bytes at the last word of BAR0 → 0', RDWR, [expectOk(ev(S4, BAR0 + (1n << 20n) - 4n, E))]),
  dev('BAR1 (unimplemented) → EINVAL', RDWR, [expectErrno('EINVAL', ev(S4, BAR1, E))]),
  dev('config space (not a BAR) → EINVAL', RDWR, [expectErrno('EINVAL', ev(S4, CONFIG + 4n, E))]),
  dev('fd = the group fd (no eventfd) → EINVAL', 'virqfd.c vfio_virqfd_enable', [
    expectErrno('EINVAL', ev(S4, BAR0 + 4n, fdOf('G'))),
  ]),
  dev('fd not open → EBADF', 'virqfd.c vfio_virqfd_enable', [expectErrno('EBADF', ev(S4, BAR0 + 4n, 4000))]),
];
