// SPDX-License-Identifier: MIT
/**
 * An e1000-like NIC (8086:100e): a second, plain device with a 128 KiB memory BAR, a 64-byte I/O BAR, INTx and a
 * working function reset. Its registers behave as plain storage; no packet engine is simulated.
 */
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { SimKernel } from '../kernel.js';
import { type BarDef, PciDevice } from './pci-device.js';

export class E1000Device extends PciDevice {
  readonly bars: readonly (BarDef | undefined)[] = [{ size: 0x20000 }, { size: 0x40, io: true }];
  readonly resetWorks = true;
  readonly msiVectors = 0;

  constructor(kernel: SimKernel, group: IommuGroup, name: string, driver: 'vfio-pci' | 'host' | null) {
    super(kernel, group, name, driver);
    this.barMemory[0] = new Uint8Array(0x20000);
    this.barMemory[1] = new Uint8Array(0x40);
    this.initConfig(0x8086, 0x100e, 0x020000, 1);
  }

  barRead(bar: number, offset: number, size: number): bigint {
    const mem = this.barMemory[bar];
    if (mem === undefined) return BigInt.asUintN(size * 8, -1n);
    return this.decodeRegister(mem.subarray(offset, offset + size));
  }

  barWrite(bar: number, offset: number, size: number, value: bigint): void {
    const mem = this.barMemory[bar];
    if (mem === undefined) return;
    mem.set(this.encodeRegister(value, size), offset);
  }

  reset(): void {
    for (const m of this.barMemory) m?.fill(0);
  }
}
