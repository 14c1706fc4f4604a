// SPDX-License-Identifier: MIT
/** The type1 IOMMU (x86, arm64, …): one flat IOVA space, per-mapping pins charged to locked_vm. */
import {
  capabilityStruct,
  codec,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_UNMAP_ALL,
  type VfioIommuType1InfoCapIovaRange,
  type VfioIommuType1InfoCapMigration,
  type VfioIommuType1InfoDmaAvail,
  walkCapabilities,
} from '@vfio-ts/uapi';
import type { DmaBuffer } from '../dma-buffer.js';
import { VfioTsError } from '../errors.js';
import { callStruct } from '../internal/ioctl.js';
import { IovaAllocator, type IovaRange, lowestPage } from '../internal/iova-allocator.js';
import { bufferState, releaseIommu } from '../internal/links.js';
import { type DmaMapOptions, dmaFlags, type Iommu, type IommuHost } from './iommu.js';

export interface Type1Info {
  readonly flags: number;
  /** Page sizes the IOMMU maps (VFIO_IOMMU_INFO_PGSIZES), as a bitmap. */
  readonly iovaPgsizes: bigint | undefined;
  /** Usable IOVA, inclusive ends (VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE); absent on kernels before 5.4. */
  readonly iovaRanges: readonly IovaRange[] | undefined;
  /** Mappings still allowed (VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, dma_entry_limit minus what is mapped). */
  readonly dmaAvail: number | undefined;
  readonly migration:
    | { readonly flags: number; readonly pgsizeBitmap: bigint; readonly maxDirtyBitmapSize: bigint }
    | undefined;
}

/** Where an IOVA space is assumed to end when the kernel reports no ranges: 48 bits, what every type1 host maps. */
const fallbackIovaEnd = (1n << 48n) - 1n;

export class Type1 implements Iommu {
  readonly model: 'type1v2' | 'type1';
  readonly #host: IommuHost;
  #allocator: IovaAllocator | undefined;
  #align = 0n;
  /** IOVAs this object chose (and so must give back to the allocator). */
  readonly #mapped = new Map<DmaBuffer, bigint>();

  /** Use `container.setIommu('type1v2')`. */
  constructor(host: IommuHost, model: 'type1v2' | 'type1') {
    this.#host = host;
    this.model = model;
  }

  /** VFIO_IOMMU_GET_INFO with its capability chain (asked twice when the chain does not fit the first buffer). */
  info(): Type1Info {
    const { backend, fd } = this.#host;
    const c = codec('vfio_iommu_type1_info', backend.arch);
    let call = callStruct(backend, fd, 'container', 'VFIO_IOMMU_GET_INFO', {});
    if (call.value.argsz > call.bytes.length) {
      call = callStruct(backend, fd, 'container', 'VFIO_IOMMU_GET_INFO', {}, { bufferSize: call.value.argsz });
    }
    const { flags, capOffset } = call.value;
    let iovaRanges: IovaRange[] | undefined;
    let dmaAvail: number | undefined;
    let migration: Type1Info['migration'];
    if ((flags & VFIO_IOMMU_INFO_CAPS) !== 0 && capOffset !== 0) {
      for (const cap of walkCapabilities(call.bytes, capOffset, backend.arch, c.size)) {
        const struct = capabilityStruct('iommu-type1-info', cap.id);
        if (struct === undefined) continue;
        const body = codec(struct, backend.arch).decode(call.bytes, cap.offset);
        if (cap.id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
          iovaRanges = (body as VfioIommuType1InfoCapIovaRange).iovaRanges.map((r) => ({ start: r.start, end: r.end }));
        } else if (cap.id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
          dmaAvail = (body as VfioIommuType1InfoDmaAvail).avail;
        } else if (cap.id === VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
          const m = body as VfioIommuType1InfoCapMigration;
          migration = { flags: m.flags, pgsizeBitmap: m.pgsizeBitmap, maxDirtyBitmapSize: m.maxDirtyBitmapSize };
        }
      }
    }
    return {
      flags,
      iovaPgsizes: (flags & VFIO_IOMMU_INFO_PGSIZES) !== 0 ? call.value.iovaPgsizes : undefined,
      iovaRanges,
      dmaAvail,
      migration,
    };
  }

  /** VFIO_IOMMU_MAP_DMA of the whole buffer; the IOVA is the caller's or the lowest free one the IOMMU allows. */
  map(buffer: DmaBuffer, options?: DmaMapOptions): bigint {
    this.#host.ownBuffer(buffer);
    const state = buffer[bufferState];
    if (state.iova !== undefined) {
      throw new VfioTsError(
        'VFIO_TS_DMA_ALREADY_MAPPED',
        `the DMA buffer is already mapped at 0x${state.iova.toString(16)}`,
      );
    }
    const allocator = this.#iovaSpace();
    const size = BigInt(buffer.length);
    let iova = options?.iova;
    // A caller's IOVA goes to the kernel even when it overlaps: the kernel's answer (EEXIST) is the contract.
    const reserved = iova === undefined ? true : allocator.reserve(iova, size);
    iova ??= allocator.allocate(size, this.#align);
    const { backend, fd } = this.#host;
    try {
      callStruct(backend, fd, 'container', 'VFIO_IOMMU_MAP_DMA', {
        flags: dmaFlags(options, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE),
        vaddr: buffer.address,
        iova,
        size,
      });
    } catch (error) {
      if (reserved) allocator.release(iova);
      throw error;
    }
    state.iova = iova;
    this.#mapped.set(buffer, iova);
    return iova;
  }

  /** VFIO_IOMMU_UNMAP_DMA of exactly the buffer's range; returns the bytes the kernel says it unmapped. */
  unmap(buffer: DmaBuffer): bigint {
    const state = buffer[bufferState];
    const iova = this.#mapped.get(buffer);
    if (iova === undefined || state.iova === undefined) {
      throw new VfioTsError('VFIO_TS_DMA_NOT_MAPPED', 'the DMA buffer is not mapped by this IOMMU');
    }
    const { backend, fd } = this.#host;
    const { value } = callStruct(backend, fd, 'container', 'VFIO_IOMMU_UNMAP_DMA', {
      iova,
      size: BigInt(buffer.length),
    });
    this.#forget(buffer, iova);
    return value.size;
  }

  /**
   * Every mapping of the container gone: one VFIO_DMA_UNMAP_FLAG_ALL where the kernel has it (5.13+), else one
   * unmap per buffer.
   */
  unmapAll(): void {
    const { backend, fd } = this.#host;
    if (this.#host.checkExtension(VFIO_UNMAP_ALL) > 0) {
      callStruct(backend, fd, 'container', 'VFIO_IOMMU_UNMAP_DMA', { flags: VFIO_DMA_UNMAP_FLAG_ALL });
      for (const [buffer, iova] of [...this.#mapped]) this.#forget(buffer, iova);
      return;
    }
    for (const buffer of [...this.#mapped.keys()]) this.unmap(buffer);
  }

  [releaseIommu](): void {
    if (this.#mapped.size > 0) this.unmapAll();
  }

  #forget(buffer: DmaBuffer, iova: bigint): void {
    buffer[bufferState].iova = undefined;
    this.#mapped.delete(buffer);
    this.#allocator?.release(iova);
  }

  #iovaSpace(): IovaAllocator {
    if (this.#allocator === undefined) {
      const info = this.info();
      const page = BigInt(this.#host.backend.pageSize);
      const smallest = info.iovaPgsizes === undefined ? page : lowestPage(info.iovaPgsizes);
      this.#align = smallest > page ? smallest : page;
      this.#allocator = new IovaAllocator(info.iovaRanges ?? [{ start: 0n, end: fallbackIovaEnd }]);
    }
    return this.#allocator;
  }
}
