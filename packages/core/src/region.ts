// SPDX-License-Identifier: MIT
/**
 * A device region (a PCI BAR, the config space, the ROM…): its info and capabilities, access through pread/pwrite
 * at `offset` of the device fd, and mmap where the region allows it.
 */
import {
  capabilityStruct,
  codec,
  systemConstants,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP,
  VFIO_REGION_INFO_CAP_TYPE,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  type VfioRegionInfoCapSparseMmap,
  type VfioRegionInfoCapType,
  walkCapabilities,
} from '@vfio-ts/uapi';
import type { Mapping } from './backend.js';
import type { Device } from './device.js';
import { VfioTsError } from './errors.js';
import { callStruct } from './internal/ioctl.js';

export interface SparseMmapArea {
  readonly offset: bigint;
  readonly size: bigint;
}

export interface RegionCapabilities {
  /** VFIO_REGION_INFO_CAP_SPARSE_MMAP: only these parts may be mmapped (e.g. a BAR around its MSI-X table). */
  readonly sparseMmap: readonly SparseMmapArea[] | undefined;
  /** VFIO_REGION_INFO_CAP_TYPE: a device-specific region's type and subtype. */
  readonly type: { readonly type: number; readonly subtype: number } | undefined;
  /** VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: the MSI-X table may be mmapped too. */
  readonly msixMappable: boolean;
  /** Every capability in the chain, known or not. */
  readonly ids: readonly number[];
}

export interface RegionInfo {
  readonly index: number;
  readonly flags: number;
  readonly size: bigint;
  /** Where the region starts in the device fd (index << 40 on vfio-pci). */
  readonly offset: bigint;
  readonly capabilities: RegionCapabilities;
}

/**
 * Fixed-width register access in one byte order, over a region's read and write. MMIO wants one access of the
 * register's width, never split, so each call is one pread or pwrite of exactly that width.
 */
export abstract class RegisterAccess {
  abstract readonly littleEndian: boolean;
  abstract read(offset: number | bigint, length: number): Uint8Array;
  abstract write(offset: number | bigint, bytes: Uint8Array): void;

  read8(offset: number | bigint): number {
    return this.read(offset, 1)[0]!;
  }
  read16(offset: number | bigint): number {
    return view(this.read(offset, 2)).getUint16(0, this.littleEndian);
  }
  read32(offset: number | bigint): number {
    return view(this.read(offset, 4)).getUint32(0, this.littleEndian);
  }
  read64(offset: number | bigint): bigint {
    return view(this.read(offset, 8)).getBigUint64(0, this.littleEndian);
  }
  write8(offset: number | bigint, value: number): void {
    this.write(offset, Uint8Array.of(value & 0xff));
  }
  write16(offset: number | bigint, value: number): void {
    const b = new Uint8Array(2);
    view(b).setUint16(0, value & 0xffff, this.littleEndian);
    this.write(offset, b);
  }
  write32(offset: number | bigint, value: number): void {
    const b = new Uint8Array(4);
    view(b).setUint32(0, value >>> 0, this.littleEndian);
    this.write(offset, b);
  }
  write64(offset: number | bigint, value: bigint): void {
    const b = new Uint8Array(8);
    view(b).setBigUint64(0, BigInt.asUintN(64, value), this.littleEndian);
    this.write(offset, b);
  }
}

class ByteOrderView extends RegisterAccess {
  constructor(
    readonly region: Region,
    readonly littleEndian: boolean,
  ) {
    super();
  }
  read(offset: number | bigint, length: number): Uint8Array {
    return this.region.read(offset, length);
  }
  write(offset: number | bigint, bytes: Uint8Array): void {
    this.region.write(offset, bytes);
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class Region extends RegisterAccess {
  readonly device: Device;
  readonly info: RegionInfo;
  readonly #mappings = new Set<Mapping>();

  /** Accessors read in the backend's byte order; see `withByteOrder`. */
  readonly littleEndian: boolean;

  /** Use `device.region(index)`. */
  constructor(device: Device, index: number) {
    super();
    this.device = device;
    this.info = regionInfo(device, index);
    this.littleEndian = device.backend.littleEndian;
  }

  get index(): number {
    return this.info.index;
  }
  get size(): bigint {
    return this.info.size;
  }
  get offset(): bigint {
    return this.info.offset;
  }
  get flags(): number {
    return this.info.flags;
  }
  get readable(): boolean {
    return (this.info.flags & VFIO_REGION_INFO_FLAG_READ) !== 0;
  }
  get writable(): boolean {
    return (this.info.flags & VFIO_REGION_INFO_FLAG_WRITE) !== 0;
  }
  get mappable(): boolean {
    return (this.info.flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0;
  }

  /** The same region read in another byte order (a big-endian device on a little-endian host, or the reverse). */
  withByteOrder(littleEndian: boolean): RegisterAccess {
    return new ByteOrderView(this, littleEndian);
  }

  /** pread of `length` bytes at `offset` within the region; a short read is an error. */
  read(offset: number | bigint, length: number): Uint8Array {
    this.#check(offset, length, 'read');
    const bytes = new Uint8Array(length);
    const n = this.device.backend.pread(this.device.fd, bytes, this.info.offset + BigInt(offset));
    if (n !== length) throw shortIo('pread', this.index, offset, length, n);
    return bytes;
  }

  /** pwrite of all of `bytes` at `offset` within the region. */
  write(offset: number | bigint, bytes: Uint8Array): void {
    this.#check(offset, bytes.length, 'write');
    const n = this.device.backend.pwrite(this.device.fd, bytes, this.info.offset + BigInt(offset));
    if (n !== bytes.length) throw shortIo('pwrite', this.index, offset, bytes.length, n);
  }

  /**
   * mmap of the region (or of `offset`/`length` within it). Refused where the region has no MMAP flag or where
   * the range leaves the sparse areas the kernel allows. Unmapped by `unmap` or when the device closes.
   */
  mmap(options: { readonly offset?: bigint; readonly length?: number; readonly prot?: number } = {}): Mapping {
    if (!this.mappable) {
      throw new VfioTsError(
        'VFIO_TS_NOT_MAPPABLE',
        `region ${this.index} cannot be mmapped (no VFIO_REGION_INFO_FLAG_MMAP)`,
      );
    }
    const offset = options.offset ?? 0n;
    const length = options.length ?? Number(this.info.size - offset);
    const end = offset + BigInt(length);
    const areas = this.info.capabilities.sparseMmap ?? [{ offset: 0n, size: this.info.size }];
    if (!areas.some((a) => offset >= a.offset && end <= a.offset + a.size) || length <= 0) {
      throw new VfioTsError(
        'VFIO_TS_NOT_MAPPABLE',
        `region ${this.index}: [0x${offset.toString(16)}, 0x${end.toString(16)}) is not inside an mmappable area`,
      );
    }
    const sys = systemConstants(this.device.backend.arch);
    const prot = options.prot ?? (this.readable ? sys.PROT_READ : 0) | (this.writable ? sys.PROT_WRITE : 0);
    const mapping = this.device.backend.mmap({ fd: this.device.fd, offset: this.info.offset + offset, length, prot });
    this.#mappings.add(mapping);
    return mapping;
  }

  unmap(mapping: Mapping): void {
    if (!this.#mappings.delete(mapping)) {
      throw new VfioTsError('VFIO_TS_NOT_MAPPED', `the mapping is not one of region ${this.index}'s`);
    }
    this.device.backend.munmap(mapping);
  }

  /** For Device.close. */
  unmapAll(): void {
    for (const m of [...this.#mappings]) this.unmap(m);
  }

  #check(offset: number | bigint, length: number, what: string): void {
    const start = BigInt(offset);
    if (start < 0n || length < 0 || start + BigInt(length) > this.info.size) {
      throw new VfioTsError(
        'VFIO_TS_OUT_OF_RANGE',
        `${what} of ${length} bytes at 0x${start.toString(16)} leaves region ${this.index} (${this.info.size} bytes)`,
      );
    }
  }
}

function shortIo(syscall: string, index: number, offset: number | bigint, want: number, got: number): VfioTsError {
  return new VfioTsError(
    'VFIO_TS_SHORT_IO',
    `${syscall} of region ${index} at 0x${BigInt(offset).toString(16)}: ${got} of ${want} bytes`,
  );
}

/** VFIO_DEVICE_GET_REGION_INFO, asked again with a larger buffer when the capability chain does not fit. */
function regionInfo(device: Device, index: number): RegionInfo {
  const { backend, fd } = device;
  let call = callStruct(backend, fd, 'device', 'VFIO_DEVICE_GET_REGION_INFO', { index });
  if (call.value.argsz > call.bytes.length) {
    call = callStruct(
      backend,
      fd,
      'device',
      'VFIO_DEVICE_GET_REGION_INFO',
      { index },
      { bufferSize: call.value.argsz },
    );
  }
  const v = call.value;
  let sparseMmap: SparseMmapArea[] | undefined;
  let type: RegionCapabilities['type'];
  let msixMappable = false;
  const ids: number[] = [];
  if ((v.flags & VFIO_REGION_INFO_FLAG_CAPS) !== 0 && v.capOffset !== 0) {
    const headerSize = codec('vfio_region_info', backend.arch).size;
    for (const cap of walkCapabilities(call.bytes, v.capOffset, backend.arch, headerSize)) {
      ids.push(cap.id);
      const struct = capabilityStruct('region-info', cap.id);
      if (cap.id === VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) msixMappable = true;
      if (struct === undefined || struct === 'vfio_info_cap_header') continue;
      const body = codec(struct, backend.arch).decode(call.bytes, cap.offset);
      if (cap.id === VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
        sparseMmap = (body as VfioRegionInfoCapSparseMmap).areas.map((a) => ({ offset: a.offset, size: a.size }));
      } else if (cap.id === VFIO_REGION_INFO_CAP_TYPE) {
        const t = body as VfioRegionInfoCapType;
        type = { type: t.type, subtype: t.subtype };
      }
    }
  }
  return {
    index: v.index,
    flags: v.flags,
    size: v.size,
    offset: v.offset,
    capabilities: { sparseMmap, type, msixMappable, ids },
  };
}
