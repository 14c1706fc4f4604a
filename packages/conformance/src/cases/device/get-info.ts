// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { device, expectErrno, expectOk, ioctl, struct, withIommu } from '../../helpers.js';
import { allModes, type Scenario } from '../../types.js';

const D = [...withIommu(), device('D')];
const info = (value = {}) => ioctl('D', 'VFIO_DEVICE_GET_INFO', struct(value));
const region = (index: number, value = {}) => ioctl('D', 'VFIO_DEVICE_GET_REGION_INFO', struct({ index, ...value }));
const irq = (index: number, value = {}) => ioctl('D', 'VFIO_DEVICE_GET_IRQ_INFO', struct({ index, ...value }));
const R = uapi.VFIO_REGION_INFO_FLAG_READ;
const W = uapi.VFIO_REGION_INFO_FLAG_WRITE;
const M = uapi.VFIO_REGION_INFO_FLAG_MMAP;
const dev = (name: string, source: string, steps: Scenario['steps']): Scenario => ({
  name: `device/${name}`,
  modes: allModes,
  source,
  needs: { edu: true },
  steps: [...D, ...steps],
});

export const scenarios: Scenario[] = [
  dev('get-info: edu → PCI, no reset, 9 regions, 5 irqs', 'type1 §8 #51; real-kernel-testbed.md (edu: no reset)', [
    expectOk(info(), { out: { flags: uapi.VFIO_DEVICE_FLAGS_PCI, numRegions: 9, numIrqs: 5 } }),
  ]),
  dev('get-info: argsz 15 → EINVAL', 'type1 §8 #51', [expectErrno('EINVAL', info({ argsz: 15 }))]),
  dev('get-info: argsz 16 → 0 (minsz)', 'type1 §4.2', [expectOk(info({ argsz: 16 }), { out: { numRegions: 9 } })]),
  dev('get-region-info: BAR0 → 1 MiB, read/write/mmap, offset 0', 'type1 §4.3; real-kernel-testbed.md (BAR0 1 MiB)', [
    expectOk(region(uapi.VFIO_PCI_BAR0_REGION_INDEX), { out: { size: 1n << 20n, flags: R | W | M, offset: 0n } }),
  ]),
  dev('get-region-info: BAR1 (unimplemented) → size 0, flags 0', 'type1 §8 #52', [
    expectOk(region(uapi.VFIO_PCI_BAR1_REGION_INDEX), { out: { size: 0n, flags: 0 } }),
  ]),
  dev('get-region-info: config → 256 bytes at index 7 << 40', 'type1 §8 #52; real-kernel-testbed.md', [
    expectOk(region(uapi.VFIO_PCI_CONFIG_REGION_INDEX), { out: { size: 256n, flags: R | W, offset: 7n << 40n } }),
  ]),
  dev('get-region-info: VGA on a non-VGA device → EINVAL', 'type1 §8 #52', [
    expectErrno('EINVAL', region(uapi.VFIO_PCI_VGA_REGION_INDEX)),
  ]),
  dev('get-region-info: index 9 (past the regions) → EINVAL', 'type1 §8 #52', [expectErrno('EINVAL', region(9))]),
  dev('get-region-info: argsz 31 → EINVAL', 'type1 §4.3', [expectErrno('EINVAL', region(0, { argsz: 31 }))]),
  dev('get-irq-info: INTx → count 1, eventfd|maskable|automasked', 'type1 §8 #54', [
    expectOk(irq(uapi.VFIO_PCI_INTX_IRQ_INDEX), {
      out: {
        count: 1,
        flags: uapi.VFIO_IRQ_INFO_EVENTFD | uapi.VFIO_IRQ_INFO_MASKABLE | uapi.VFIO_IRQ_INFO_AUTOMASKED,
      },
    }),
  ]),
  dev('get-irq-info: MSI → count 1, eventfd|noresize', 'type1 §4.4 (edu: one MSI vector)', [
    expectOk(irq(uapi.VFIO_PCI_MSI_IRQ_INDEX), {
      out: { count: 1, flags: uapi.VFIO_IRQ_INFO_EVENTFD | uapi.VFIO_IRQ_INFO_NORESIZE },
    }),
  ]),
  dev('get-irq-info: MSI-X on a device without it → count 0', 'type1 §4.4', [
    expectOk(irq(uapi.VFIO_PCI_MSIX_IRQ_INDEX), { out: { count: 0 } }),
  ]),
  dev('get-irq-info: ERR on a conventional PCI device → EINVAL', 'type1 §8 #54', [
    expectErrno('EINVAL', irq(uapi.VFIO_PCI_ERR_IRQ_INDEX)),
  ]),
  dev('get-irq-info: REQ → count 1', 'type1 §4.4', [
    expectOk(irq(uapi.VFIO_PCI_REQ_IRQ_INDEX), {
      out: { count: 1, flags: uapi.VFIO_IRQ_INFO_EVENTFD | uapi.VFIO_IRQ_INFO_NORESIZE },
    }),
  ]),
  dev('get-irq-info: index 5 → EINVAL', 'type1 §8 #54', [expectErrno('EINVAL', irq(5))]),
  dev('get-irq-info: argsz 15 → EINVAL', 'type1 §4.4', [expectErrno('EINVAL', irq(0, { argsz: 15 }))]),
  dev('reset: edu has no reset → EINVAL', 'type1 §8 #59', [expectErrno('EINVAL', ioctl('D', 'VFIO_DEVICE_RESET'))]),
  dev('unknown-ioctl: a container ioctl number on a device → ENOTTY', 'type1 §8 #64', [
    expectErrno('ENOTTY', { ...ioctl('D', 'VFIO_DEVICE_GET_INFO'), requestDelta: -7 }),
  ]),
];
