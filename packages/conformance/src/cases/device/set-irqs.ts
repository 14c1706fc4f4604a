// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { device, expectErrno, expectOk, ioctl, withIommu } from '../../helpers.js';
import { allModes, type FdRef, type Scenario } from '../../types.js';

const D = [...withIommu(), device('D')];
const N = uapi.VFIO_IRQ_SET_DATA_NONE;
const B = uapi.VFIO_IRQ_SET_DATA_BOOL;
const E = uapi.VFIO_IRQ_SET_DATA_EVENTFD;
const T = uapi.VFIO_IRQ_SET_ACTION_TRIGGER;
const MASK = uapi.VFIO_IRQ_SET_ACTION_MASK;
const UNMASK = uapi.VFIO_IRQ_SET_ACTION_UNMASK;
const set = (
  flags: number,
  index: number,
  start: number,
  count: number,
  tail: (FdRef | number)[] = [],
  argsz?: number,
) =>
  ioctl('D', 'VFIO_DEVICE_SET_IRQS', {
    value: { argsz: argsz ?? 20 + 4 * tail.length, flags, index, start, count },
    tailInts: tail,
  });
const dev = (name: string, source: string, steps: Scenario['steps']): Scenario => ({
  name: `device/set-irqs: ${name}`,
  modes: allModes,
  source,
  needs: { edu: true },
  steps: [...D, ...steps],
});
const MSI = uapi.VFIO_PCI_MSI_IRQ_INDEX;
const INTX = uapi.VFIO_PCI_INTX_IRQ_INDEX;
const REQ = uapi.VFIO_PCI_REQ_IRQ_INDEX;

export const scenarios: Scenario[] = [
  dev('NONE|BOOL|TRIGGER (two data types) → EINVAL', 'type1 §8 #56', [
    expectErrno('EINVAL', set(N | B | T, INTX, 0, 1)),
  ]),
  dev('MSI MASK → ENOTTY', 'type1 §8 #56', [expectErrno('ENOTTY', set(N | MASK, MSI, 0, 1))]),
  dev('INTx MASK with an eventfd while INTx is off → EINVAL (INTx must be active first)', 'type1 §4.5 INTx MASK', [
    { op: 'eventfd', as: 'E' },
    expectErrno('EINVAL', set(E | MASK, INTX, 0, 1, [{ fd: 'E' }])),
  ]),
  dev('INTx MASK with an eventfd while INTx is on → ENOTTY', 'type1 §8 #56', [
    { op: 'eventfd', as: 'E' },
    expectOk(set(E | T, INTX, 0, 1, [{ fd: 'E' }])),
    expectErrno('ENOTTY', set(E | MASK, INTX, 0, 1, [{ fd: 'E' }])),
  ]),
  dev('start + count past the vectors → EINVAL', 'type1 §8 #56', [expectErrno('EINVAL', set(N | T, MSI, 0, 2))]),
  dev('EVENTFD with argsz 20 and count 1 (no data) → EINVAL', 'type1 §8 #56', [
    expectErrno('EINVAL', set(E | T, MSI, 0, 1, [], 20)),
  ]),
  dev('argsz 19 → EINVAL', 'type1 §4.5', [expectErrno('EINVAL', set(N | T, INTX, 0, 1, [], 19))]),
  dev('INTx UNMASK with INTx not enabled → EINVAL', 'type1 §8 #57', [
    expectErrno('EINVAL', set(N | UNMASK, INTX, 0, 1)),
  ]),
  dev('any SET_IRQS on MSI-X (count 0) → EINVAL', 'type1 §8 #57', [
    expectErrno('EINVAL', set(N | T, uapi.VFIO_PCI_MSIX_IRQ_INDEX, 0, 0)),
  ]),
  dev('REQ DATA_NONE count 0 with no trigger → EINVAL', 'type1 §8 #58', [expectErrno('EINVAL', set(N | T, REQ, 0, 0))]),
  dev('REQ EVENTFD → 0, then DATA_NONE count 1 signals it → 0', 'type1 §8 #58', [
    { op: 'eventfd', as: 'E' },
    expectOk(set(E | T, REQ, 0, 1, [{ fd: 'E' }])),
    expectOk(set(N | T, REQ, 0, 1)),
  ]),
  dev('MSI EVENTFD enable, INTx while MSI is active → EINVAL, MSI disable → 0', 'type1 §8 #55', [
    { op: 'eventfd', as: 'E' },
    expectOk(set(E | T, MSI, 0, 1, [{ fd: 'E' }])),
    expectErrno('EINVAL', set(E | T, INTX, 0, 1, [{ fd: 'E' }])),
    expectOk(set(N | T, MSI, 0, 0)),
  ]),
  dev('INTx EVENTFD enable → 0, MASK → 0, UNMASK → 0, disable → 0', 'type1 §4.5 INTx', [
    { op: 'eventfd', as: 'E' },
    expectOk(set(E | T, INTX, 0, 1, [{ fd: 'E' }])),
    expectOk(set(N | MASK, INTX, 0, 1)),
    expectOk(set(N | UNMASK, INTX, 0, 1)),
    expectOk(set(N | T, INTX, 0, 0)),
  ]),
  dev('index 5 → EINVAL', 'type1 §4.5', [expectErrno('EINVAL', set(N | T, 5, 0, 1))]),
];
