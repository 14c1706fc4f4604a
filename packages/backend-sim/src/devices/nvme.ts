// SPDX-License-Identifier: MIT
/**
 * An NVMe-like controller (1b36:0010, class 01:08:02) reduced to what VFIO sees of an MSI-X function: a conventional
 * PCI function with one 16 KiB 64-bit memory BAR holding the controller registers (0x0000), the MSI-X table
 * (0x2000) and the PBA (0x3000); 65 MSI-X vectors (QEMU's nvme `msix_qsize` default), INTx pin A, no MSI.
 * No command processing: registers other than CAP and VS are plain storage; `interrupt(vector)` stands for the
 * controller posting a completion to the queue bound to that vector. The BAR layout is this model's, not measured.
 */
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { DeviceSpec, SimKernel } from '../kernel.js';
import { type BarDef, type MsixLayout, PCI_MSIX_ENTRY_SIZE, PciDevice } from './pci-device.js';

const BAR0_SIZE = 0x4000;
const NVME_REG_CAP = 0x00;
const NVME_REG_VS = 0x08;
/** CAP: MQES 0x7ff, CQR, TO 15 (7.5 s), CSS = NVM command set. */
const NVME_CAP = 0x0000_0020_0f01_07ffn;
/** VS: NVMe 1.4 */
const NVME_VS = 0x0001_0400n;
/** Vector Control bit 0: entries come out of reset masked. */
const PCI_MSIX_ENTRY_CTRL_MASKBIT = 1;
const PCI_MSIX_ENTRY_VECTOR_CTRL = 12;

export class NvmeDevice extends PciDevice {
  readonly bars: readonly (BarDef | undefined)[] = [{ size: BAR0_SIZE, mem64: true }];
  readonly msiVectors = 0;
  override readonly msixTableSize = 65;
  override readonly msixLayout: MsixLayout = { bar: 0, tableOffset: 0x2000, pbaOffset: 0x3000 };
  /** MSI-X messages the device sent, and those dropped because MSI-X was off. */
  readonly msixStats = { sent: 0, dropped: 0 };

  constructor(kernel: SimKernel, group: IommuGroup, spec: DeviceSpec) {
    super(kernel, group, spec);
    this.barMemory[0] = new Uint8Array(BAR0_SIZE);
    this.initConfig(0x1b36, 0x0010, 0x010802, 0x02, 1);
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
    // CAP and VS are read-only.
    if (bar === 0 && offset < NVME_REG_VS + 4) return;
    mem.set(this.encodeRegister(value, size), offset);
  }

  /** NVMe registers are little-endian on every target. */
  override get bigEndianRegisters(): boolean {
    return false;
  }

  reset(): void {
    const mem = this.barMemory[0]!;
    mem.fill(0);
    mem.set(this.encodeRegister(NVME_CAP, 8), NVME_REG_CAP);
    mem.set(this.encodeRegister(NVME_VS, 4), NVME_REG_VS);
    const table = this.msixLayout.tableOffset;
    for (let v = 0; v < this.msixTableSize; v++)
      mem[table + v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
  }

  /** ≙ the controller posting a completion to the queue whose interrupt vector is `vector`. */
  interrupt(vector: number): boolean {
    const sent = this.raiseMsix(vector);
    if (sent) this.msixStats.sent++;
    else this.msixStats.dropped++;
    return sent;
  }
}
