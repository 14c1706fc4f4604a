// SPDX-License-Identifier: MIT
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { DeviceSpec, SimKernel } from '../kernel.js';
import { E1000Device } from './e1000.js';
import { EduDevice } from './edu.js';
import { NvmeDevice } from './nvme.js';
import type { PciDevice } from './pci-device.js';

export type { PciDevice };
export { E1000Device, EduDevice, NvmeDevice };

/** ≙ device probe: builds the emulation named by `spec.model`. */
export function createDevice(kernel: SimKernel, group: IommuGroup, spec: DeviceSpec): PciDevice {
  switch (spec.model) {
    case 'edu':
      return new EduDevice(kernel, group, spec);
    case 'e1000':
      return new E1000Device(kernel, group, spec);
    case 'nvme':
      return new NvmeDevice(kernel, group, spec);
    default:
      throw new TypeError(`unknown device model '${spec.model}'`);
  }
}
