// SPDX-License-Identifier: MIT

/** PCI devices QEMU can put into a guest for VFIO to take over. */
export type DeviceModel = 'edu' | 'e1000';

export interface DeviceModelInfo {
  /** `vendor:device` as sysfs shows it without `0x`, used by init to find and bind the device. */
  readonly pciId: string;
  /** QEMU `-device` properties besides the bus. */
  readonly qemuProps: readonly string[];
  readonly description: string;
}

export const deviceModels: Readonly<Record<DeviceModel, DeviceModelInfo>> = {
  edu: {
    pciId: '1234:11e8',
    // edu's default 28-bit DMA mask makes it drop any IOVA above 256 MiB, which rules out sPAPR's 64-bit windows.
    qemuProps: ['dma_mask=0xffffffffffffffff'],
    description: "QEMU's educational device: 1 MiB MMIO BAR0, DMA engine with a 4 KiB buffer, MSI; no reset",
  },
  e1000: {
    pciId: '8086:100e',
    qemuProps: [],
    description: 'Intel 82540EM NIC: a second device with other regions and a function-level reset',
  },
};

export const defaultDevices: readonly DeviceModel[] = ['edu', 'e1000'];

/** A device as bound in the guest: where it sits and which VFIO group it is in. */
export interface GuestDevice {
  readonly model: DeviceModel | 'unknown';
  readonly pciId: string;
  /** `dddd:bb:dd.f` */
  readonly bdf: string;
  /** IOMMU group number; `/dev/vfio/<group>`. */
  readonly group: number;
  readonly groupPath: string;
  /**
   * `/dev/vfio/devices/vfioN`, when the kernel has the VFIO device cdev (CONFIG_VFIO_DEVICE_CDEV, 6.6+): in a
   * guest, N is what `/sys/bus/pci/devices/<bdf>/vfio-dev/` names (there since 6.1) and the node exists. Absent
   * otherwise.
   */
  readonly cdev?: string;
}

export function modelOf(pciId: string): DeviceModel | 'unknown' {
  for (const [model, info] of Object.entries(deviceModels)) if (info.pciId === pciId) return model as DeviceModel;
  return 'unknown';
}
