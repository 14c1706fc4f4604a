// SPDX-License-Identifier: MIT
/**
 * Memory a device may reach by DMA: an anonymous mapping from `backend.mmap`, owned by one container. The buffer
 * knows whether the IOMMU maps it (and at which IOVA) and whether sPAPR has it registered, so that it is never
 * given back to the system while a device could still write into it.
 */
import type { Backend, Mapping } from './backend.js';
import { VfioTsError } from './errors.js';
import { disposeSymbol } from './internal/dispose.js';
import { bufferFreed, bufferState, forgetBuffer } from './internal/links.js';

/** What the IOMMU objects record on a buffer. */
export interface DmaBufferState {
  iova: bigint | undefined;
  registered: boolean;
}

export interface DmaBufferOwner {
  readonly backend: Backend;
  /** Undoes the buffer's mapping and registration in kernel-safe order; throws if that fails. */
  [bufferFreed](buffer: DmaBuffer): void;
  /** The memory is gone: stop tracking the buffer. */
  [forgetBuffer](buffer: DmaBuffer): void;
}

export class DmaBuffer {
  readonly #owner: DmaBufferOwner;
  readonly #mapping: Mapping;
  readonly #state: DmaBufferState = { iova: undefined, registered: false };
  #freed = false;

  /** Use `container.allocateDma(size)`. */
  constructor(owner: DmaBufferOwner, mapping: Mapping) {
    this.#owner = owner;
    this.#mapping = mapping;
  }

  /** The user virtual address (`vaddr` to the kernel). */
  get address(): bigint {
    return this.#live().address;
  }

  get length(): number {
    return this.#mapping.length;
  }

  /** A live view: the device's DMA writes show up here. */
  get bytes(): Uint8Array {
    return this.#live().bytes;
  }

  /** The IOVA the device uses, once an IOMMU maps the buffer. */
  get iova(): bigint | undefined {
    return this.#state.iova;
  }

  get mapped(): boolean {
    return this.#state.iova !== undefined;
  }

  /** sPAPR v2: pre-registered with the container (pinned and charged to locked_vm). */
  get registered(): boolean {
    return this.#state.registered;
  }

  get freed(): boolean {
    return this.#freed;
  }

  /** The IOVA, or a clear error when the buffer is not mapped: what a driver programs into its device. */
  requireIova(): bigint {
    const iova = this.#state.iova;
    if (iova === undefined) throw new VfioTsError('VFIO_TS_DMA_NOT_MAPPED', 'the DMA buffer is not mapped by an IOMMU');
    return iova;
  }

  /**
   * Unmaps, unregisters (in that order: DPDK's unmap before unregister) and gives the memory back. If undoing a
   * mapping fails the memory is kept, because a device could still write into it.
   */
  free(): void {
    if (this.#freed) return;
    this.#owner[bufferFreed](this);
    if (this.#state.iova !== undefined || this.#state.registered) {
      throw new VfioTsError('VFIO_TS_DMA_BUFFER_BUSY', 'the DMA buffer is still mapped or registered; memory kept');
    }
    this.#owner.backend.munmap(this.#mapping);
    this.#freed = true;
    this.#owner[forgetBuffer](this);
  }

  [disposeSymbol](): void {
    this.free();
  }

  /** For the IOMMU objects of this package. */
  get [bufferState](): DmaBufferState {
    return this.#state;
  }

  #live(): Mapping {
    if (this.#freed) throw new VfioTsError('VFIO_TS_DMA_BUFFER_FREED', 'the DMA buffer was freed');
    return this.#mapping;
  }
}
