// SPDX-License-Identifier: MIT
/**
 * Just enough of a driver for QEMU's edu device (1234:11e8) to show a DMA round trip: its registers live in BAR0,
 * its 4 KiB DMA buffer at device address 0x40000 (see docs/real-kernel-testbed.md and QEMU's hw/misc/edu.c).
 * The register offsets below are edu's, not VFIO's: they come from the device, not from linux/vfio.h.
 */
import { type Device, type RegisterAccess, VfioTsError } from '@vfio-ts/core';
import { VFIO_PCI_BAR0_REGION_INDEX } from '@vfio-ts/uapi';

const EDU_VENDOR = 0x1234;
const EDU_DEVICE = 0x11e8;
const REG_ID = 0x00;
const REG_DMA_SRC = 0x80;
const REG_DMA_DST = 0x88;
const REG_DMA_CNT = 0x90;
const REG_DMA_CMD = 0x98;
const DMA_RUN = 0x1;
const DMA_TO_RAM = 0x2;
/** The device's internal buffer, as the device addresses it. */
export const EDU_BUFFER = 0x40000n;
export const EDU_BUFFER_SIZE = 4096;

export class Edu {
  readonly device: Device;
  readonly regs: RegisterAccess;
  /** The identification register, e.g. 0x010000ed (major 1, minor 0). */
  readonly id: number;
  /** edu is native-endian to the CPU QEMU emulates: big-endian registers on qemu-system-ppc64 even for ppc64le. */
  readonly bigEndianRegisters: boolean;

  constructor(device: Device) {
    this.device = device;
    const pci = device.pci;
    if (pci.vendorId !== EDU_VENDOR || pci.deviceId !== EDU_DEVICE) {
      throw new VfioTsError(
        'VFIO_TS_NOT_EDU',
        `${device.name} is ${pci.vendorId.toString(16)}:${pci.deviceId.toString(16)}, not QEMU's edu device ` +
          `(1234:11e8); start QEMU with '-device edu' and pass its address with --device`,
      );
    }
    const bar0 = device.region(VFIO_PCI_BAR0_REGION_INDEX);
    const le = bar0.withByteOrder(true);
    // The low byte of the ID register is always 0xed: read it little-endian and see where 0xed landed.
    const raw = le.read32(REG_ID);
    this.bigEndianRegisters = (raw & 0xff) !== 0xed;
    this.regs = this.bigEndianRegisters ? bar0.withByteOrder(false) : le;
    this.id = this.regs.read32(REG_ID);
    // Without bus mastering the device's DMA silently does nothing.
    pci.enableBusMaster();
  }

  /** Copies `length` bytes from `iova` (RAM) into the device's buffer. */
  async fromRam(iova: bigint, length: number, deviceOffset = 0): Promise<void> {
    await this.#dma(iova, EDU_BUFFER + BigInt(deviceOffset), length, 0);
  }

  /** Copies `length` bytes from the device's buffer out to `iova` (RAM). */
  async toRam(iova: bigint, length: number, deviceOffset = 0): Promise<void> {
    await this.#dma(EDU_BUFFER + BigInt(deviceOffset), iova, length, DMA_TO_RAM);
  }

  async #dma(src: bigint, dst: bigint, length: number, direction: number): Promise<void> {
    if (length <= 0 || length > EDU_BUFFER_SIZE) {
      throw new VfioTsError('VFIO_TS_INVALID_ARGUMENT', `edu DMA moves 1..${EDU_BUFFER_SIZE} bytes, not ${length}`);
    }
    this.#write(REG_DMA_SRC, src);
    this.#write(REG_DMA_DST, dst);
    this.#write(REG_DMA_CNT, BigInt(length));
    this.#write(REG_DMA_CMD, BigInt(DMA_RUN | direction));
    // The real device runs the transfer from a 100 ms timer; the simulated one is done before this first read.
    const deadline = Date.now() + 5_000;
    while ((this.regs.read32(REG_DMA_CMD) & DMA_RUN) !== 0) {
      if (Date.now() > deadline) {
        throw new VfioTsError('VFIO_TS_DMA_TIMEOUT', 'edu: the DMA did not complete within 5 s (is bus mastering on?)');
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** 4-byte writes where the value fits (every kernel does those); 8-byte ones only for 64-bit addresses. */
  #write(offset: number, value: bigint): void {
    if (value <= 0xffff_ffffn) this.regs.write32(offset, Number(value));
    else this.regs.write64(offset, value);
  }
}
