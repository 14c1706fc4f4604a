// SPDX-License-Identifier: MIT
/**
 * Helpers for the iommufd tests: the 6.12 q35 machine, /dev/iommu commands built from the generated codecs (size =
 * sizeof unless given), a bound edu cdev, edu DMA, and the baseline every test returns to.
 */
import {
  codec,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  type IoctlName,
  ioctlNumber,
  type StructName,
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
} from '@vfio-ts/uapi';
import { expect } from 'vitest';
import { SimKernel, type SimProcessBackend } from '../../src/index.js';
import { iommufdCheckInvariants, iommufdMmLockedVm, iommufdStateDigest } from '../../src/iommufd/selftest.js';
import { checkInvariants, livePages, stateDigest } from '../../src/testing/index.js';

export const PROFILE = 'x86_64-q35-6.12';
/** vfio device indexes follow registration order: edu (group 1) is vfio0, e1000 (group 2) vfio1. */
export const EDU_CDEV = '/dev/vfio/devices/vfio0';
export const E1000_CDEV = '/dev/vfio/devices/vfio1';
export const EDU = '0000:00:01.0';
export const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
export const FIXED = IOMMU_IOAS_MAP_FIXED_IOVA;
export const U64_MAX = 2n ** 64n - 1n;
export const PAGE = 4096n;

export function nr(p: SimProcessBackend, name: IoctlName): number {
  return ioctlNumber(name, p.arch);
}

/** An iommufd command with size = sizeof unless given. */
export function cmd(p: SimProcessBackend, name: StructName, value: Record<string, unknown> = {}): Uint8Array {
  const c = codec(name, p.arch);
  return c.encode({ size: c.size, ...value } as never);
}

export function decode<T = Record<string, any>>(p: SimProcessBackend, name: StructName, bytes: Uint8Array): T {
  return codec(name, p.arch).decode(bytes) as T;
}

/** Both halves of the baseline: the kernel's digest and the iommufd model's. */
export function digest(kernel: SimKernel): string {
  return stateDigest(kernel) + iommufdStateDigest(kernel);
}

/** Every invariant: the kernel's (locked_vm counting iommufd MM charges) and the iommufd model's. */
export function invariants(kernel: SimKernel): string[] {
  return [...checkInvariants(kernel, (pid) => iommufdMmLockedVm(kernel, pid)), ...iommufdCheckInvariants(kernel)];
}

export interface Fresh {
  kernel: SimKernel;
  p: SimProcessBackend;
  baseline: string;
  live: number;
}

export function fresh(options: { capIpcLock?: boolean; rlimitMemlock?: bigint } = {}): Fresh {
  const kernel = SimKernel.create(PROFILE);
  const p = kernel.createProcess({
    capIpcLock: options.capIpcLock ?? false,
    ...(options.rlimitMemlock !== undefined ? { rlimitMemlock: options.rlimitMemlock } : {}),
  });
  return { kernel, p, baseline: digest(kernel), live: livePages(kernel) };
}

/** Back to how the machine started: no object, no pin, no charge, every group openable. */
export function expectBaseline(f: Fresh): void {
  expect(invariants(f.kernel)).toEqual([]);
  expect(digest(f.kernel)).toBe(f.baseline);
  for (const id of [1, 2]) f.p.close(f.p.open(`/dev/vfio/${id}`));
}

export function ioasAlloc(p: SimProcessBackend, ictx: number): number {
  const b = cmd(p, 'iommu_ioas_alloc');
  expect(p.ioctl(ictx, nr(p, 'IOMMU_IOAS_ALLOC'), b)).toBe(0);
  return decode(p, 'iommu_ioas_alloc', b).outIoasId;
}

export interface MapArgs {
  ioasId: number;
  userVa: bigint;
  length: bigint;
  iova?: bigint;
  flags?: number;
  reserved?: number;
  size?: number;
}

/** IOMMU_IOAS_MAP; returns the IOVA the kernel used (chosen or fixed). */
export function ioasMap(p: SimProcessBackend, ictx: number, a: MapArgs): bigint {
  const b = cmd(p, 'iommu_ioas_map', { flags: RW | (a.iova !== undefined ? FIXED : 0), iova: 0n, ...a });
  expect(p.ioctl(ictx, nr(p, 'IOMMU_IOAS_MAP'), b)).toBe(0);
  return decode(p, 'iommu_ioas_map', b).iova;
}

export function ioasMapRaw(p: SimProcessBackend, ictx: number, a: MapArgs): number {
  return p.ioctl(ictx, nr(p, 'IOMMU_IOAS_MAP'), cmd(p, 'iommu_ioas_map', { flags: RW, iova: 0n, ...a }));
}

/** IOMMU_IOAS_UNMAP; returns the length the kernel wrote back (bytes unmapped). */
export function ioasUnmap(p: SimProcessBackend, ictx: number, ioasId: number, iova: bigint, length: bigint): bigint {
  const b = cmd(p, 'iommu_ioas_unmap', { ioasId, iova, length });
  expect(p.ioctl(ictx, nr(p, 'IOMMU_IOAS_UNMAP'), b)).toBe(0);
  return decode(p, 'iommu_ioas_unmap', b).length;
}

export function ioasUnmapRaw(p: SimProcessBackend, ictx: number, ioasId: number, iova: bigint, length: bigint): number {
  return p.ioctl(ictx, nr(p, 'IOMMU_IOAS_UNMAP'), cmd(p, 'iommu_ioas_unmap', { ioasId, iova, length }));
}

export function destroy(p: SimProcessBackend, ictx: number, id: number): number {
  return p.ioctl(ictx, nr(p, 'IOMMU_DESTROY'), cmd(p, 'iommu_destroy', { id }));
}

/** IOMMU_IOAS_IOVA_RANGES into a buffer of `room` ranges; returns [ranges, num_iovas, out_iova_alignment]. */
export function iovaRanges(
  p: SimProcessBackend,
  ictx: number,
  ioasId: number,
  room = 8,
): { ranges: { start: bigint; last: bigint }[]; num: number; alignment: bigint } {
  const r = codec('iommu_iova_range', p.arch);
  const buf = p.mmap({ length: Math.max(4096, room * r.size) });
  const b = cmd(p, 'iommu_ioas_iova_ranges', { ioasId, numIovas: room, allowedIovas: buf.address });
  p.ioctl(ictx, nr(p, 'IOMMU_IOAS_IOVA_RANGES'), b);
  const out = decode(p, 'iommu_ioas_iova_ranges', b);
  const ranges = [];
  for (let i = 0; i < Math.min(room, out.numIovas); i++) ranges.push(r.decode(buf.bytes.subarray(i * r.size)));
  p.munmap(buf);
  return { ranges, num: out.numIovas, alignment: out.outIovaAlignment };
}

/** VFIO_DEVICE_BIND_IOMMUFD on a fresh cdev fd; returns [fd, devid]. */
export function bindCdev(p: SimProcessBackend, ictx: number, path = EDU_CDEV): [number, number] {
  const d = p.open(path);
  const b = codec('vfio_device_bind_iommufd', p.arch);
  const buf = b.encode({ argsz: b.size, iommufd: ictx });
  expect(p.ioctl(d, nr(p, 'VFIO_DEVICE_BIND_IOMMUFD'), buf)).toBe(0);
  return [d, b.decode(buf).outDevid];
}

/** VFIO_DEVICE_ATTACH_IOMMUFD_PT; returns the pt_id written back. */
export function attach(p: SimProcessBackend, d: number, ptId: number): number {
  const c = codec('vfio_device_attach_iommufd_pt', p.arch);
  const buf = c.encode({ argsz: c.size, ptId });
  expect(p.ioctl(d, nr(p, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT'), buf)).toBe(0);
  return c.decode(buf).ptId;
}

export function attachRaw(p: SimProcessBackend, d: number, ptId: number): number {
  const c = codec('vfio_device_attach_iommufd_pt', p.arch);
  return p.ioctl(d, nr(p, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT'), c.encode({ argsz: c.size, ptId }));
}

export function detach(p: SimProcessBackend, d: number): number {
  const c = codec('vfio_device_detach_iommufd_pt', p.arch);
  return p.ioctl(d, nr(p, 'VFIO_DEVICE_DETACH_IOMMUFD_PT'), c.encode({ argsz: c.size }));
}

function regionOffset(p: SimProcessBackend, d: number, index: number): bigint {
  const c = codec('vfio_region_info', p.arch);
  const buf = c.encode({ argsz: c.size, index });
  p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_REGION_INFO'), buf);
  return c.decode(buf).offset;
}

function write64(p: SimProcessBackend, d: number, off: bigint, v: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, p.littleEndian);
  expect(p.pwrite(d, b, off)).toBe(8);
}

/** Bus mastering on (COMMAND |= MEMORY | MASTER). */
export function enableBusMaster(p: SimProcessBackend, d: number): void {
  const cfg = regionOffset(p, d, VFIO_PCI_CONFIG_REGION_INDEX);
  const b = new Uint8Array(2);
  p.pread(d, b, cfg + 4n);
  b[0]! |= 0x6;
  p.pwrite(d, b, cfg + 4n);
}

/** edu DMA: `toRam` copies `count` bytes of its buffer (device address 0x40000) to `iova`, else from `iova`. */
export function eduDma(p: SimProcessBackend, d: number, iova: bigint, count: number, toRam: boolean): void {
  const bar = regionOffset(p, d, VFIO_PCI_BAR0_REGION_INDEX);
  write64(p, d, bar + 0x80n, toRam ? 0x40000n : iova);
  write64(p, d, bar + 0x88n, toRam ? iova : 0x40000n);
  write64(p, d, bar + 0x90n, BigInt(count));
  write64(p, d, bar + 0x98n, toRam ? 3n : 1n);
}
