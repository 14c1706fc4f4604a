// SPDX-License-Identifier: MIT
/** What every IOMMU model offers a driver: put a DMA buffer at an IOVA and take it away again. */
import type { Backend } from '../backend.js';
import type { DmaBuffer } from '../dma-buffer.js';
import type { releaseIommu } from '../internal/links.js';

export type IommuModel = 'type1v2' | 'type1' | 'spapr-v2' | 'spapr';

export interface DmaMapOptions {
  /** Where the device sees the buffer; chosen from the free IOVA space when absent. */
  readonly iova?: bigint;
  /** The device may read the buffer (VFIO_DMA_MAP_FLAG_READ). Default true. */
  readonly read?: boolean;
  /** The device may write the buffer (VFIO_DMA_MAP_FLAG_WRITE). Default true. */
  readonly write?: boolean;
}

export interface Iommu {
  readonly model: IommuModel;
  /** Maps the whole buffer; returns its IOVA (also on `buffer.iova`). */
  map(buffer: DmaBuffer, options?: DmaMapOptions): bigint;
  unmap(buffer: DmaBuffer): void;
  /** Undoes every mapping, window and registration this object made, in kernel-safe order. */
  [releaseIommu](): void;
}

/** What an IOMMU object needs of its container. */
export interface IommuHost {
  readonly backend: Backend;
  readonly fd: number;
  checkExtension(extension: number): number;
  readonly groupCount: number;
  /** The container's live buffers (those an IOMMU may hold state for). */
  readonly buffers: Iterable<DmaBuffer>;
  /** Throws unless the buffer belongs to this container and is not freed. */
  ownBuffer(buffer: DmaBuffer): void;
}

export function dmaFlags(options: DmaMapOptions | undefined, read: number, write: number): number {
  return (options?.read === false ? 0 : read) | (options?.write === false ? 0 : write);
}
