// SPDX-License-Identifier: MIT
/**
 * A user-space driver for QEMU's `edu` device (1234:11e8, hw/misc/edu.c): identification, liveness check,
 * factorial, DMA through its 4 KiB internal buffer, and completion interrupts. It is written once against the
 * typed API and runs unchanged on the simulator and on a real kernel, x86 type1 or POWER sPAPR.
 *
 * Register map (BAR0): 0x00 id, 0x04 liveness, 0x08 factorial, 0x20 status, 0x24 interrupt status, 0x60 raise,
 * 0x64 acknowledge, 0x80 DMA source, 0x88 DMA destination, 0x90 DMA count, 0x98 DMA command.
 */

import { VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX } from '@vfio-ts/uapi';
import type { Arch } from '../backend.js';
import type { Device } from '../device.js';
import type { DmaBuffer } from '../dma-buffer.js';
import { VfioTsError } from '../errors.js';
import type { Irq } from '../irq.js';
import type { RegisterAccess } from '../region.js';

export const EDU_VENDOR_ID = 0x1234;
export const EDU_DEVICE_ID = 0x11e8;

export const eduRegisters = {
  identification: 0x00,
  liveness: 0x04,
  factorial: 0x08,
  status: 0x20,
  interruptStatus: 0x24,
  interruptRaise: 0x60,
  interruptAcknowledge: 0x64,
  dmaSource: 0x80,
  dmaDestination: 0x88,
  dmaCount: 0x90,
  dmaCommand: 0x98,
} as const;

const STATUS_COMPUTING = 0x01;
const STATUS_IRQ_FACTORIAL = 0x80;
const DMA_START = 0x1;
const DMA_TO_RAM = 0x2;
const DMA_RAISE_IRQ = 0x4;
const IRQ_FACTORIAL = 0x1;
const IRQ_DMA = 0x100;
/** Where edu's internal buffer sits in its own DMA address space, and how big it is. */
export const EDU_BUFFER_ADDRESS = 0x40000n;
export const EDU_BUFFER_SIZE = 4096;

export interface EduOptions {
  /**
   * Register byte order. edu is native-endian to QEMU's emulated target, so qemu-system-ppc64 presents it
   * big-endian even to a little-endian guest; the default follows the platform's architecture.
   */
  readonly littleEndian?: boolean;
  /** How long to poll for the factorial or a DMA to finish, in ms (real QEMU runs DMA from a 100 ms timer). */
  readonly timeoutMs?: number;
}

export interface EduIdentification {
  readonly raw: number;
  readonly major: number;
  readonly minor: number;
}

export interface EduDmaOptions {
  /** Offset within edu's 4 KiB buffer. */
  readonly deviceOffset?: number;
  /** Offset within the DMA buffer. */
  readonly bufferOffset?: number;
  /** Wait for the completion interrupt (after `enableInterrupts`) instead of polling. */
  readonly interrupt?: boolean;
}

/** The byte order QEMU's edu registers have on a platform. */
export function eduLittleEndian(arch: Arch): boolean {
  return !arch.startsWith('ppc');
}

export class Edu {
  readonly device: Device;
  readonly registers: RegisterAccess;
  readonly #timeoutMs: number;
  #irq: Irq | undefined;

  private constructor(device: Device, options: EduOptions) {
    this.device = device;
    const littleEndian = options.littleEndian ?? eduLittleEndian(device.backend.arch);
    this.registers = device.region(VFIO_PCI_BAR0_REGION_INDEX).withByteOrder(littleEndian);
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** Checks the PCI ids, enables memory space and bus mastering (DMA silently does nothing without it). */
  static open(device: Device, options: EduOptions = {}): Edu {
    const { pci } = device;
    if (pci.vendorId !== EDU_VENDOR_ID || pci.deviceId !== EDU_DEVICE_ID) {
      throw new VfioTsError(
        'VFIO_TS_WRONG_DEVICE',
        `${device.name} is ${hex(pci.vendorId, 4)}:${hex(pci.deviceId, 4)}, not edu (1234:11e8)`,
      );
    }
    pci.enableBusMaster();
    return new Edu(device, options);
  }

  /** 0x010000ed: major 1, minor 0. Reads 0xed000001 when the byte order is wrong. */
  identification(): EduIdentification {
    const raw = this.registers.read32(eduRegisters.identification);
    if ((raw & 0xff) !== 0xed) {
      throw new VfioTsError(
        'VFIO_TS_WRONG_DEVICE',
        `edu identification reads ${hex(raw, 8)}: not edu, or its registers are in the other byte order`,
      );
    }
    return { raw, major: raw >>> 24, minor: (raw >>> 16) & 0xff };
  }

  /** The device answers the bitwise NOT of what was written. */
  liveness(value: number): number {
    this.registers.write32(eduRegisters.liveness, value);
    return this.registers.read32(eduRegisters.liveness);
  }

  /** n! in 32-bit arithmetic, computed by the device. */
  async factorial(n: number, options: { readonly interrupt?: boolean } = {}): Promise<number> {
    const irq = options.interrupt === true ? this.#requireIrq() : undefined;
    const status = this.registers.read32(eduRegisters.status);
    const withIrq = irq !== undefined ? status | STATUS_IRQ_FACTORIAL : status & ~STATUS_IRQ_FACTORIAL;
    this.registers.write32(eduRegisters.status, withIrq);
    const fired = irq?.next();
    this.registers.write32(eduRegisters.factorial, n);
    if (fired !== undefined) await this.#completeInterrupt(fired, IRQ_FACTORIAL);
    else await this.#poll(() => (this.registers.read32(eduRegisters.status) & STATUS_COMPUTING) === 0, 'factorial');
    return this.registers.read32(eduRegisters.factorial);
  }

  /** DMA from memory into edu's buffer. The buffer must be mapped by the container's IOMMU. */
  async dmaToDevice(buffer: DmaBuffer, length: number, options: EduDmaOptions = {}): Promise<void> {
    const { source, destination } = this.#addresses(buffer, length, options, false);
    await this.#dma(source, destination, length, 0, options);
  }

  /** DMA from edu's buffer into memory. */
  async dmaFromDevice(buffer: DmaBuffer, length: number, options: EduDmaOptions = {}): Promise<void> {
    const { source, destination } = this.#addresses(buffer, length, options, true);
    await this.#dma(source, destination, length, DMA_TO_RAM, options);
  }

  /**
   * Sends `length` bytes from the start of the buffer to the device and back into the buffer right after them,
   * and checks they came back unchanged.
   */
  async roundTrip(buffer: DmaBuffer, length: number, options: { readonly interrupt?: boolean } = {}): Promise<boolean> {
    if (length * 2 > buffer.length) {
      throw new VfioTsError('VFIO_TS_INVALID_ARGUMENT', `a ${length}-byte round trip needs ${length * 2} buffer bytes`);
    }
    await this.dmaToDevice(buffer, length, options);
    await this.dmaFromDevice(buffer, length, { ...options, bufferOffset: length });
    const bytes = buffer.bytes;
    for (let i = 0; i < length; i++) if (bytes[i] !== bytes[length + i]) return false;
    return true;
  }

  /** Routes edu's interrupt to an eventfd: MSI where the device has it, else INTx. */
  enableInterrupts(): Irq {
    if (this.#irq !== undefined) return this.#irq;
    const msi = this.device.irq(VFIO_PCI_MSI_IRQ_INDEX);
    const irq = msi.info.count > 0 && msi.info.eventfd ? msi : this.device.irq(VFIO_PCI_INTX_IRQ_INDEX);
    irq.enable(1);
    this.#irq = irq;
    return irq;
  }

  disableInterrupts(): void {
    this.#irq?.disable();
    this.#irq = undefined;
  }

  #addresses(
    buffer: DmaBuffer,
    length: number,
    options: EduDmaOptions,
    toRam: boolean,
  ): { source: bigint; destination: bigint } {
    const deviceOffset = options.deviceOffset ?? 0;
    const bufferOffset = options.bufferOffset ?? 0;
    // QEMU aborts (hw_error) on a DMA outside edu's buffer: refuse before the device sees it.
    if (length <= 0 || deviceOffset < 0 || deviceOffset + length > EDU_BUFFER_SIZE) {
      throw new VfioTsError(
        'VFIO_TS_INVALID_ARGUMENT',
        `edu DMA of ${length} bytes at ${deviceOffset} leaves its 4 KiB buffer`,
      );
    }
    if (bufferOffset < 0 || bufferOffset + length > buffer.length) {
      throw new VfioTsError(
        'VFIO_TS_INVALID_ARGUMENT',
        `edu DMA of ${length} bytes at ${bufferOffset} leaves the DMA buffer`,
      );
    }
    const memory = buffer.requireIova() + BigInt(bufferOffset);
    const device = EDU_BUFFER_ADDRESS + BigInt(deviceOffset);
    return toRam ? { source: device, destination: memory } : { source: memory, destination: device };
  }

  async #dma(
    source: bigint,
    destination: bigint,
    length: number,
    direction: number,
    options: EduDmaOptions,
  ): Promise<void> {
    const irq = options.interrupt === true ? this.#requireIrq() : undefined;
    this.#writeAddress(eduRegisters.dmaSource, source);
    this.#writeAddress(eduRegisters.dmaDestination, destination);
    this.#writeAddress(eduRegisters.dmaCount, BigInt(length));
    const fired = irq?.next();
    this.registers.write32(eduRegisters.dmaCommand, DMA_START | direction | (irq !== undefined ? DMA_RAISE_IRQ : 0));
    if (fired !== undefined) await this.#completeInterrupt(fired, IRQ_DMA);
    else await this.#poll(() => (this.registers.read32(eduRegisters.dmaCommand) & DMA_START) === 0, 'DMA');
  }

  /** 64-bit DMA registers take 4-byte writes everywhere and 8-byte writes on newer kernels: use 8 only when needed. */
  #writeAddress(offset: number, value: bigint): void {
    if (value > 0xffff_ffffn) this.registers.write64(offset, value);
    else this.registers.write32(offset, Number(value));
  }

  async #completeInterrupt(fired: Promise<bigint>, cause: number): Promise<void> {
    // If the wait times out, the read stays pending until the IRQ is disabled; its rejection then is expected.
    fired.catch(() => undefined);
    const timer = AbortSignal.timeout(this.#timeoutMs);
    await Promise.race([
      fired,
      new Promise((_, reject) => timer.addEventListener('abort', () => reject(timeout('interrupt')), { once: true })),
    ]);
    const pending = this.registers.read32(eduRegisters.interruptStatus);
    this.registers.write32(eduRegisters.interruptAcknowledge, pending | cause);
    // INTx is masked by the kernel when it fires; it stays masked until we say the device is handled.
    if (this.#irq?.info.automasked === true) this.#irq.unmask();
  }

  #requireIrq(): Irq {
    if (this.#irq === undefined) {
      throw new VfioTsError('VFIO_TS_IRQ_DISABLED', 'call enableInterrupts() before asking for a completion interrupt');
    }
    return this.#irq;
  }

  async #poll(done: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + this.#timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw timeout(what);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

function timeout(what: string): VfioTsError {
  return new VfioTsError('VFIO_TS_TIMEOUT', `edu ${what} did not complete in time`);
}

function hex(value: number, digits: number): string {
  return `0x${(value >>> 0).toString(16).padStart(digits, '0')}`;
}
