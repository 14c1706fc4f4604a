// SPDX-License-Identifier: MIT
/**
 * PCI configuration space through the vfio-pci config region. Config space is little-endian on every host (the
 * kernel presents it as the bus does), so these accessors do not follow the backend's byte order.
 */
import type { Region, RegisterAccess } from './region.js';

/** Register offsets and bits of linux/pci_regs.h (PCI, not VFIO: @vfio-ts/uapi covers vfio.h only). */
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_REVISION = 0x08;

export class PciConfig {
  readonly region: Region;
  readonly #le: RegisterAccess;

  constructor(region: Region) {
    this.region = region;
    this.#le = region.withByteOrder(true);
  }

  get vendorId(): number {
    return this.read16(PCI_VENDOR_ID);
  }
  get deviceId(): number {
    return this.read16(PCI_DEVICE_ID);
  }
  /** Class code (24 bits) and revision. */
  get classRevision(): number {
    return this.read32(PCI_CLASS_REVISION);
  }
  get command(): number {
    return this.read16(PCI_COMMAND);
  }
  get status(): number {
    return this.read16(PCI_STATUS);
  }

  setCommand(value: number): void {
    this.write16(PCI_COMMAND, value);
  }

  /**
   * Sets memory space and bus master enable. Without bus mastering a device's DMA silently does nothing; returns
   * the command register as read back.
   */
  enableBusMaster(): number {
    this.setCommand(this.command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    return this.command;
  }

  disableBusMaster(): number {
    this.setCommand(this.command & ~PCI_COMMAND_MASTER);
    return this.command;
  }

  read8(offset: number): number {
    return this.#le.read8(offset);
  }
  read16(offset: number): number {
    return this.#le.read16(offset);
  }
  read32(offset: number): number {
    return this.#le.read32(offset);
  }
  write8(offset: number, value: number): void {
    this.#le.write8(offset, value);
  }
  write16(offset: number, value: number): void {
    this.#le.write16(offset, value);
  }
  write32(offset: number, value: number): void {
    this.#le.write32(offset, value);
  }
}
