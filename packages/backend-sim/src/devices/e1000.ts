// SPDX-License-Identifier: MIT
/**
 * An e1000-like NIC (8086:100e): a second, plain device with a 128 KiB memory BAR, a 64-byte I/O BAR, INTx and a
 * working function reset. Its registers behave as plain storage; no packet engine is simulated.
 */
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { DeviceSpec, SimKernel } from '../kernel.js';
import { type BarDef, PciDevice } from './pci-device.js';

export class E1000Device extends PciDevice {
  readonly bars: readonly (BarDef | undefined)[] = [{ size: 0x20000 }, { size: 0x40, io: true }];
  readonly msiVectors = 0;
  override readonly romSize = 0x40000;
  override readonly romImageSize = ROM_IMAGE_BLOCKS * 512;
  override readonly rom: Uint8Array;

  constructor(kernel: SimKernel, group: IommuGroup, spec: DeviceSpec) {
    super(kernel, group, spec);
    this.barMemory[0] = new Uint8Array(0x20000);
    this.barMemory[1] = new Uint8Array(0x40);
    this.initConfig(0x8086, 0x100e, 0x020000, 0x03, 1);
    this.rom = optionRom(this.romSize, this.romImageSize);
    this.reset();
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

  /** QEMU's e1000 registers are DEVICE_LITTLE_ENDIAN on every target (measured on ppc64le: CTRL reads 40 02 14 00). */
  override get bigEndianRegisters(): boolean {
    return false;
  }

  reset(): void {
    for (const m of this.barMemory) m?.fill(0);
    // CTRL after reset as QEMU's e1000 sets it: SLU | SPEED_1000 | SWDPIN0 | SWDPIN2 (measured 0x00140240).
    this.barWrite(0, 0x0, 4, 0x00140240n);
  }
}

/** QEMU loads efi-e1000.rom: a 0x93-block image (measured header 55 aa 93 e9) in a 256 KiB ROM BAR. */
const ROM_IMAGE_BLOCKS = 0x93;

/** An option ROM image with a valid header and PCI data structure (its code bytes are not iPXE's). */
function optionRom(size: number, imageSize: number): Uint8Array {
  const rom = new Uint8Array(size).fill(0xff);
  rom.fill(0, 0, imageSize);
  rom.set([0x55, 0xaa, ROM_IMAGE_BLOCKS, 0xe9]);
  const pcir = 0x1c;
  const dv = new DataView(rom.buffer);
  dv.setUint16(0x18, pcir, true);
  rom.set([0x50, 0x43, 0x49, 0x52], pcir);
  dv.setUint16(pcir + 4, 0x8086, true);
  dv.setUint16(pcir + 6, 0x100e, true);
  dv.setUint16(pcir + 16, ROM_IMAGE_BLOCKS, true);
  rom[pcir + 21] = 0x80;
  return rom;
}
