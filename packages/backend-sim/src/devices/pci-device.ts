// SPDX-License-Identifier: MIT
/**
 * A PCI function as the host sees it: config space, BARs, INTx/MSI, bus mastering, and DMA that always goes through
 * its IOMMU group's translation (≙ the device's view of memory behind an IOMMU).
 */
import { errnoNumber } from '@vfio-ts/uapi';
import type { DmaWindow, IommuGroup, SimDevice } from '../iommu/iommu-group.js';
import { iommufdGroupDomain } from '../iommufd/device.js';
import type { DeviceSpec, SimKernel } from '../kernel.js';

const EFAULT = errnoNumber('EFAULT');

// PCI config-space layout (include/uapi/linux/pci_regs.h): PCI, not VFIO, so not part of the vfio uapi package.
export const PCI_VENDOR_ID = 0x00;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_CLASS_REVISION = 0x08;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_ROM_ADDRESS_ENABLE = 0x1;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_CAP_ID_MSI = 0x05;
export const PCI_CAP_ID_MSIX = 0x11;
export const PCI_CAP_LIST_NEXT = 1;
/** MSI-X capability: Message Control, Table Offset/BIR, PBA Offset/BIR (pci_regs.h). */
export const PCI_MSIX_FLAGS = 2;
export const PCI_MSIX_FLAGS_QSIZE = 0x07ff;
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
export const PCI_MSIX_TABLE = 4;
export const PCI_MSIX_PBA = 8;
export const PCI_MSIX_TABLE_BIR = 0x7;
export const PCI_MSIX_TABLE_OFFSET = 0xfffffff8;
/** One MSI-X table entry: address lo/hi, data, vector control (bit 0 = masked). */
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_CFG_SPACE_SIZE = 256;

/** Where a device keeps its MSI-X table and PBA (both in `bar`). */
export interface MsixLayout {
  readonly bar: number;
  readonly tableOffset: number;
  readonly pbaOffset: number;
}

export interface BarDef {
  readonly size: number;
  readonly io?: boolean;
  readonly mem64?: boolean;
}

/** Where a device's interrupts go while vfio-pci has it open. */
export interface IrqSink {
  intx(level: boolean): void;
  msi(vector: number): void;
}

export interface DeviceDmaStats {
  reads: number;
  writes: number;
  /** DMA the IOMMU blocked (unmapped IOVA or missing permission). */
  faults: number;
  /** DMA attempted while bus mastering was off: dropped without a trace, as on real hardware. */
  dropped: number;
}

export abstract class PciDevice implements SimDevice {
  driver: 'vfio-pci' | 'host' | null;
  readonly config: Uint8Array;
  abstract readonly bars: readonly (BarDef | undefined)[];
  readonly romSize: number = 0;
  readonly isPcie: boolean = false;
  /** A function reset works (FLR/PM/bus); from the DeviceSpec, false unless it says so. */
  get resetWorks(): boolean {
    return this.spec.reset === true;
  }
  abstract readonly msiVectors: number;
  /** MSI-X table size (0: no MSI-X capability) and where table and PBA live. */
  readonly msixTableSize: number = 0;
  readonly msixLayout: MsixLayout | null = null;
  irqSink: IrqSink | null = null;
  /** Set by vfio-pci when it enables MSI on the device (≙ the MSI capability's enable bit). */
  msiEnabled = false;
  readonly dmaStats: DeviceDmaStats = { reads: 0, writes: 0, faults: 0, dropped: 0 };
  /** Backing of mmap-able BARs: the bytes a process sees through a BAR mmap. */
  readonly barMemory: (Uint8Array | undefined)[] = [];

  readonly name: string;
  /** BAR addresses firmware assigned (what vfio's virtual BARs start from). */
  readonly firmwareBars: readonly number[];
  readonly firmwareRom: number;
  /** ROM contents, `romSize` long when present; bytes past the image read 0xff. */
  readonly rom: Uint8Array | null = null;
  readonly romImageSize: number = 0;

  constructor(
    readonly kernel: SimKernel,
    readonly group: IommuGroup,
    readonly spec: DeviceSpec,
  ) {
    this.name = spec.name;
    this.driver = spec.driver === undefined ? 'vfio-pci' : spec.driver;
    this.config = new Uint8Array(PCI_CFG_SPACE_SIZE);
    this.firmwareBars = spec.firmware?.bars ?? [];
    this.firmwareRom = spec.firmware?.rom ?? 0;
  }

  /** edu-style DEVICE_NATIVE_ENDIAN: the target's byte order (big-endian on every qemu-system-ppc64 guest). */
  get bigEndianRegisters(): boolean {
    return this.kernel.profile.deviceBigEndian === true;
  }

  protected initConfig(vendor: number, device: number, classCode: number, revision: number, intxPin: number): void {
    const dv = new DataView(this.config.buffer);
    dv.setUint16(PCI_VENDOR_ID, vendor, true);
    dv.setUint16(PCI_VENDOR_ID + 2, device, true);
    dv.setUint32(PCI_CLASS_REVISION, ((classCode << 8) | revision) >>> 0, true);
    // QEMU's default subsystem for its devices: Red Hat, Inc. / QEMU (1af4:1100).
    dv.setUint16(PCI_SUBSYSTEM_VENDOR_ID, 0x1af4, true);
    dv.setUint16(PCI_SUBSYSTEM_VENDOR_ID + 2, 0x1100, true);
    this.config[PCI_INTERRUPT_PIN] = intxPin;
    this.config[PCI_INTERRUPT_LINE] = this.spec.firmware?.interruptLine ?? 0;
    dv.setUint16(PCI_COMMAND, this.spec.firmware?.command ?? 0, true);
    // Capabilities from 0x40 on, chained in this order: MSI, MSI-X.
    let prev = PCI_CAPABILITY_LIST;
    const addCap = (at: number, id: number): void => {
      dv.setUint16(PCI_STATUS, PCI_STATUS_CAP_LIST, true);
      this.config[prev] = at;
      this.config[at] = id;
      this.config[at + PCI_CAP_LIST_NEXT] = 0;
      prev = at + PCI_CAP_LIST_NEXT;
    };
    if (this.msiVectors > 0) {
      // MSI: 64-bit, Multiple Message Capable = log2(vectors).
      addCap(0x40, PCI_CAP_ID_MSI);
      dv.setUint16(0x42, 0x80 | (Math.log2(this.msiVectors) << 1), true);
    }
    const msix = this.msixLayout;
    if (this.msixTableSize > 0 && msix !== null) {
      // MSI-X: Table Size - 1 in Message Control (enable and function mask clear), table and PBA offset | BIR.
      const at = this.msiVectors > 0 ? 0x50 : 0x40;
      addCap(at, PCI_CAP_ID_MSIX);
      dv.setUint16(at + PCI_MSIX_FLAGS, (this.msixTableSize - 1) & PCI_MSIX_FLAGS_QSIZE, true);
      dv.setUint32(at + PCI_MSIX_TABLE, (msix.tableOffset | msix.bar) >>> 0, true);
      dv.setUint32(at + PCI_MSIX_PBA, (msix.pbaOffset | msix.bar) >>> 0, true);
    }
    for (let i = 0; i < 6; i++) {
      const bar = this.bars[i];
      if (bar === undefined) continue;
      dv.setUint32(PCI_BASE_ADDRESS_0 + 4 * i, bar.io ? 1 : bar.mem64 ? 4 : 0, true);
    }
  }

  get command(): number {
    return this.config[PCI_COMMAND]! | (this.config[PCI_COMMAND + 1]! << 8);
  }

  set command(value: number) {
    this.config[PCI_COMMAND] = value & 0xff;
    this.config[PCI_COMMAND + 1] = (value >> 8) & 0xff;
  }

  get intxPin(): number {
    return this.config[PCI_INTERRUPT_PIN]!;
  }

  /** ≙ pci_find_capability: config offset of capability `id`, 0 when absent. */
  findCapability(id: number): number {
    if ((this.config[PCI_STATUS]! & PCI_STATUS_CAP_LIST) === 0) return 0;
    let pos = this.config[PCI_CAPABILITY_LIST]! & ~3;
    for (let ttl = 48; pos >= 0x40 && ttl > 0; ttl--) {
      if (this.config[pos] === id) return pos;
      pos = this.config[pos + PCI_CAP_LIST_NEXT]! & ~3;
    }
    return 0;
  }

  /** MSI-X Message Control as the hardware holds it (vfio passes it through unvirtualized). */
  get msixControl(): number {
    const at = this.findCapability(PCI_CAP_ID_MSIX);
    return at === 0 ? 0 : this.config[at + PCI_MSIX_FLAGS]! | (this.config[at + PCI_MSIX_FLAGS + 1]! << 8);
  }

  /** The host's MSI core turning MSI-X on or off (≙ pci_msix_enable / pci_msix_shutdown writing the enable bit). */
  setMsixEnable(on: boolean): void {
    const at = this.findCapability(PCI_CAP_ID_MSIX);
    if (at === 0) return;
    const ctl = on ? this.msixControl | PCI_MSIX_FLAGS_ENABLE : this.msixControl & ~PCI_MSIX_FLAGS_ENABLE;
    new DataView(this.config.buffer).setUint16(at + PCI_MSIX_FLAGS, ctl, true);
  }

  /** An MSI-X message on `vector`: delivered only while MSI-X is enabled and the vector exists. */
  protected raiseMsix(vector: number): boolean {
    if ((this.msixControl & PCI_MSIX_FLAGS_ENABLE) === 0 || vector >= this.msixTableSize) return false;
    this.irqSink?.msi(vector);
    return true;
  }

  /** An MMIO or port read of `size` (1, 2, 4, 8) bytes at `offset` of `bar`. */
  abstract barRead(bar: number, offset: number, size: number): bigint;
  abstract barWrite(bar: number, offset: number, size: number, value: bigint): void;
  /** ≙ a function-level reset: registers back to power-on values. */
  abstract reset(): void;

  /** Drives INTx (level) or MSI (edge) depending on what the host enabled. */
  protected raiseInterrupt(asserted: boolean): void {
    if (this.msiEnabled) {
      if (asserted) this.irqSink?.msi(0);
      return;
    }
    if ((this.command & PCI_COMMAND_INTX_DISABLE) !== 0) return;
    this.irqSink?.intx(asserted);
  }

  /** Device → memory (pci_dma_write). Returns false when the write did not reach memory. */
  dmaWrite(iova: bigint, data: Uint8Array): boolean {
    return this.dma(iova, data.length, true, (w, done) =>
      w.page.bytes.set(data.subarray(done, done + w.length), w.offset),
    );
  }

  /** Memory → device (pci_dma_read): the bytes read, zeros where the IOMMU blocked; null with bus mastering off. */
  dmaRead(iova: bigint, length: number): Uint8Array | null {
    if ((this.command & PCI_COMMAND_MASTER) === 0) {
      this.dmaStats.dropped++;
      return null;
    }
    const out = new Uint8Array(length);
    this.dma(iova, length, false, (w, done) => out.set(w.page.bytes.subarray(w.offset, w.offset + w.length), done));
    return out;
  }

  /**
   * One DMA transaction, page by page as the IOMMU translates it: a page that faults is reported; QEMU then reads
   * zeros for it and drops what would have been written (measured: a device read from an unmapped IOVA delivers
   * zeros), while the pages that translate move their data.
   */
  private dma(iova: bigint, length: number, write: boolean, copy: (w: DmaWindow, done: number) => void): boolean {
    if ((this.command & PCI_COMMAND_MASTER) === 0) {
      this.dmaStats.dropped++;
      return false;
    }
    // The group's domain: type1's (group.dma) or, for a cdev device attached through iommufd, the HWPT's.
    const translator = this.group.dma ?? iommufdGroupDomain(this.group);
    const page = this.kernel.pageSize;
    let done = 0;
    let ok = true;
    while (done < length) {
      const at = iova + BigInt(done);
      const w = translator === null ? -EFAULT : translator.translate(at, length - done, write);
      if (typeof w === 'number') {
        ok = false;
        this.dmaStats.faults++;
        this.kernel.hooks.iommuFault({ group: this.group.id, device: this.name, iova: at, write, reason: w });
        done += Math.min(length - done, page - Number(at % BigInt(page)));
        continue;
      }
      copy(w, done);
      done += w.length;
    }
    if (write) this.dmaStats.writes++;
    else this.dmaStats.reads++;
    return ok;
  }

  /** Register value ↔ bytes in the device's byte order (QEMU devices are native-endian to the emulated CPU). */
  encodeRegister(value: bigint, size: number): Uint8Array {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const shift = BigInt(8 * (this.bigEndianRegisters ? size - 1 - i : i));
      out[i] = Number((value >> shift) & 0xffn);
    }
    return out;
  }

  decodeRegister(bytes: Uint8Array): bigint {
    let v = 0n;
    const size = bytes.length;
    for (let i = 0; i < size; i++) {
      const shift = BigInt(8 * (this.bigEndianRegisters ? size - 1 - i : i));
      v |= BigInt(bytes[i]!) << shift;
    }
    return v;
  }
}
