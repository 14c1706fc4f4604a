// SPDX-License-Identifier: MIT
/**
 * ≙ qemu hw/misc/edu.c: QEMU's educational PCI device (1234:11e8). Registers in BAR0, a factorial unit, INTx/MSI,
 * and a DMA engine between a 4 KiB internal buffer (device address 0x40000) and memory, through the IOMMU.
 * Work the real device does in a thread or after a 100 ms timer completes synchronously here.
 */
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { DeviceSpec, SimKernel } from '../kernel.js';
import { type BarDef, PciDevice } from './pci-device.js';

const EDU_STATUS_COMPUTING = 0x01n;
const EDU_STATUS_IRQFACT = 0x80n;
const EDU_DMA_RUN = 0x1n;
const EDU_DMA_DIR_TO_RAM = 0x2n;
const EDU_DMA_IRQ = 0x4n;
const FACT_IRQ = 0x1n;
const DMA_IRQ = 0x100n;
const DMA_START = 0x40000n;
const DMA_SIZE = 4096n;
const ALL_ONES = 2n ** 64n - 1n;

export class EduDevice extends PciDevice {
  readonly bars: readonly (BarDef | undefined)[] = [{ size: 1 << 20 }];
  readonly msiVectors = 1;
  addr4 = 0n;
  fact = 0n;
  status = 0n;
  irqStatus = 0n;
  dmaSrc = 0n;
  dmaDst = 0n;
  dmaCnt = 0n;
  dmaCmd = 0n;
  readonly dmaBuf = new Uint8Array(Number(DMA_SIZE));
  /** DMA requests outside the 4 KiB buffer: QEMU aborts (hw_error); the simulator refuses and counts them. */
  rangeErrors = 0;
  readonly dmaMask: bigint;

  constructor(kernel: SimKernel, group: IommuGroup, spec: DeviceSpec) {
    super(kernel, group, spec);
    this.dmaMask = kernel.profile.eduDmaMask ?? (1n << 28n) - 1n;
    this.initConfig(0x1234, 0x11e8, 0x00ff00, 0x10, 1);
  }

  barRead(bar: number, offset: number, size: number): bigint {
    const addr = BigInt(offset);
    if (bar !== 0) return ALL_ONES;
    // edu's MemoryRegionOps accept 4- and 8-byte accesses only; QEMU answers narrower reads with 0 (measured).
    if (size < 4) return 0n;
    if (addr < 0x80n && size !== 4) return mask(ALL_ONES, size);
    if (addr >= 0x80n && size !== 4 && size !== 8) return mask(ALL_ONES, size);
    let val = ALL_ONES;
    switch (addr) {
      case 0x00n:
        val = 0x010000edn;
        break;
      case 0x04n:
        val = this.addr4;
        break;
      case 0x08n:
        val = this.fact;
        break;
      case 0x20n:
        val = this.status;
        break;
      case 0x24n:
        val = this.irqStatus;
        break;
      case 0x80n:
        val = this.dmaSrc;
        break;
      case 0x88n:
        val = this.dmaDst;
        break;
      case 0x90n:
        val = this.dmaCnt;
        break;
      case 0x98n:
        val = this.dmaCmd;
        break;
    }
    return mask(val, size);
  }

  barWrite(bar: number, offset: number, size: number, val: bigint): void {
    const addr = BigInt(offset);
    if (bar !== 0 || size < 4) return;
    if (addr < 0x80n && size !== 4) return;
    if (addr >= 0x80n && size !== 4 && size !== 8) return;
    // The DMA registers are frozen while a transfer runs.
    const dmaIdle = (this.dmaCmd & EDU_DMA_RUN) === 0n;
    switch (addr) {
      case 0x04n:
        this.addr4 = mask(~val, 4);
        break;
      case 0x08n:
        if ((this.status & EDU_STATUS_COMPUTING) !== 0n) break;
        this.fact = val;
        this.status |= EDU_STATUS_COMPUTING;
        this.computeFactorial();
        break;
      case 0x20n:
        if ((val & EDU_STATUS_IRQFACT) !== 0n) this.status |= EDU_STATUS_IRQFACT;
        else this.status &= ~EDU_STATUS_IRQFACT;
        break;
      case 0x60n:
        this.raiseIrq(val);
        break;
      case 0x64n:
        this.lowerIrq(val);
        break;
      case 0x80n:
        if (dmaIdle) this.dmaSrc = val;
        break;
      case 0x88n:
        if (dmaIdle) this.dmaDst = val;
        break;
      case 0x90n:
        if (dmaIdle) this.dmaCnt = val;
        break;
      case 0x98n:
        if ((val & EDU_DMA_RUN) === 0n || !dmaIdle) break;
        this.dmaCmd = val;
        this.runDma();
        break;
    }
  }

  reset(): void {
    // edu has no reset method; vfio-pci never calls this for it (reset_works is false).
  }

  /** The factorial thread: 32-bit arithmetic like the C code. */
  private computeFactorial(): void {
    let n = Number(this.fact & 0xffffffffn);
    let ret = 1;
    while (n > 0) {
      ret = Math.imul(ret, n) >>> 0;
      n--;
    }
    this.fact = BigInt(ret);
    this.status &= ~EDU_STATUS_COMPUTING;
    if ((this.status & EDU_STATUS_IRQFACT) !== 0n) this.raiseIrq(FACT_IRQ);
  }

  /** ≙ edu_dma_timer */
  private runDma(): void {
    const cnt = this.dmaCnt;
    if ((this.dmaCmd & EDU_DMA_DIR_TO_RAM) !== 0n) {
      if (this.checkRange(this.dmaSrc, cnt)) {
        const from = Number(this.dmaSrc - DMA_START);
        this.dmaWrite(this.dmaDst & this.dmaMask, this.dmaBuf.slice(from, from + Number(cnt)));
      }
    } else if (this.checkRange(this.dmaDst, cnt)) {
      const data = this.dmaRead(this.dmaSrc & this.dmaMask, Number(cnt));
      if (data !== null) this.dmaBuf.set(data, Number(this.dmaDst - DMA_START));
    }
    this.dmaCmd &= ~EDU_DMA_RUN;
    if ((this.dmaCmd & EDU_DMA_IRQ) !== 0n) this.raiseIrq(DMA_IRQ);
  }

  private checkRange(addr: bigint, size: bigint): boolean {
    const end1 = addr + size;
    const end2 = DMA_START + DMA_SIZE;
    if (DMA_START <= addr && addr < end2 && end1 > addr && end1 <= end2) return true;
    this.rangeErrors++;
    return false;
  }

  private raiseIrq(val: bigint): void {
    this.irqStatus |= mask(val, 4);
    if (this.irqStatus !== 0n) this.raiseInterrupt(true);
  }

  private lowerIrq(val: bigint): void {
    this.irqStatus &= ~val;
    if (this.irqStatus === 0n && !this.msiEnabled) this.raiseInterrupt(false);
  }
}

function mask(v: bigint, size: number): bigint {
  return BigInt.asUintN(size * 8, v);
}
