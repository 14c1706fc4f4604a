// SPDX-License-Identifier: MIT
/** Test helpers in ok / expected-errno pairs (iommufd selftest style), and a ready container on x86_64-q35. */
import { isSystemError } from '@vfio-ts/core';
import {
  codec,
  type IoctlName,
  ioctlNumber,
  minArgsz,
  type StructName,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_TYPE1v2_IOMMU,
} from '@vfio-ts/uapi';
import { expect } from 'vitest';
import { SimKernel, type SimProcessBackend } from '../../src/index.js';

export function expectOk<T>(fn: () => T): T {
  return fn();
}

export function expectErrno(code: string, fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${code}`).toBeDefined();
  expect(isSystemError(thrown), String(thrown)).toBe(true);
  expect((thrown as { code: string }).code).toBe(code);
}

export function nr(p: SimProcessBackend, name: IoctlName): number {
  return ioctlNumber(name, p.arch);
}

/** A struct buffer with argsz = sizeof unless given. */
export function struct(p: SimProcessBackend, name: StructName, value: Record<string, unknown> = {}): Uint8Array {
  const c = codec(name, p.arch);
  return c.encode({ argsz: c.size, ...value } as never);
}

export function decode<T = Record<string, any>>(p: SimProcessBackend, name: StructName, bytes: Uint8Array): T {
  return codec(name, p.arch).decode(bytes) as T;
}

export function intArg(p: SimProcessBackend, value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, p.littleEndian);
  return b;
}

export function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

export const EDU = '0000:00:01.0';
export const E1000 = '0000:00:02.0';

export interface Setup {
  kernel: SimKernel;
  p: SimProcessBackend;
  c: number;
  g: number;
}

/** Container with group 1 attached and SET_IOMMU done (type1 v2 unless told). */
export function setup(
  options: { iommu?: number; profile?: string; capIpcLock?: boolean; rlimitMemlock?: bigint } = {},
): Setup {
  const kernel = SimKernel.create(options.profile ?? 'x86_64-q35');
  const p = kernel.createProcess({
    capIpcLock: options.capIpcLock ?? true,
    ...(options.rlimitMemlock !== undefined ? { rlimitMemlock: options.rlimitMemlock } : {}),
  });
  const c = p.open('/dev/vfio/vfio');
  const g = p.open('/dev/vfio/1');
  p.ioctl(g, nr(p, 'VFIO_GROUP_SET_CONTAINER'), intArg(p, c));
  p.ioctl(c, nr(p, 'VFIO_SET_IOMMU'), options.iommu ?? VFIO_TYPE1v2_IOMMU);
  return { kernel, p, c, g };
}

export function mapDma(p: SimProcessBackend, c: number, vaddr: bigint, iova: bigint, size: bigint, flags = 3): number {
  return p.ioctl(c, nr(p, 'VFIO_IOMMU_MAP_DMA'), struct(p, 'vfio_iommu_type1_dma_map', { flags, vaddr, iova, size }));
}

/** Returns the size the kernel wrote back. */
export function unmapDma(p: SimProcessBackend, c: number, iova: bigint, size: bigint, flags = 0): bigint {
  const b = struct(p, 'vfio_iommu_type1_dma_unmap', { flags, iova, size });
  p.ioctl(c, nr(p, 'VFIO_IOMMU_UNMAP_DMA'), b);
  return decode(p, 'vfio_iommu_type1_dma_unmap', b).size;
}

export { minArgsz };

/** The config region's offset in the device fd, as GET_REGION_INFO reports it. */
export function configOffset(p: SimProcessBackend, d: number): bigint {
  const b = struct(p, 'vfio_region_info', { index: VFIO_PCI_CONFIG_REGION_INDEX });
  p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_REGION_INFO'), b);
  return decode(p, 'vfio_region_info', b).offset;
}
