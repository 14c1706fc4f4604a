// SPDX-License-Identifier: MIT
/**
 * A VFIO container (/dev/vfio/vfio): the IOMMU context its groups share. It owns its fd, its IOMMU object and the
 * DMA buffers allocated through it, and takes all of them down in the order the kernel needs: mappings before
 * registrations before memory, devices before their group leaves.
 */
import {
  systemConstants,
  VFIO_API_VERSION,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
} from '@vfio-ts/uapi';
import type { Backend } from './backend.js';
import { DmaBuffer } from './dma-buffer.js';
import { isSystemError, VfioTsError } from './errors.js';
import type { Group } from './group.js';
import { disposeSymbol } from './internal/dispose.js';
import { callInt, callNone, openNode } from './internal/ioctl.js';
import {
  bufferFreed,
  bufferState,
  forgetBuffer,
  groupAttached,
  groupDetached,
  groupDetaching,
  releaseFromContainer,
  releaseIommu,
} from './internal/links.js';
import type { Iommu, IommuHost, IommuModel } from './iommu/iommu.js';
import { Spapr } from './iommu/spapr.js';
import { Type1 } from './iommu/type1.js';

export type IommuChoice = IommuModel | 'auto';

export interface SetIommuOptions {
  /** 'spapr-v2' falls back to v1 when the group refuses v2, as QEMU does; false makes v2 strict. Default true. */
  readonly fallback?: boolean;
}

export interface ContainerOptions {
  readonly path?: string;
}

export interface AllocateDmaOptions {
  /** PROT_* bits; read and write by default. */
  readonly prot?: number;
}

type IommuFor<K extends IommuChoice> = K extends 'type1v2' | 'type1'
  ? Type1
  : K extends 'spapr-v2' | 'spapr'
    ? Spapr
    : Type1 | Spapr;

const modelType: Record<IommuModel, number> = {
  type1v2: VFIO_TYPE1v2_IOMMU,
  type1: VFIO_TYPE1_IOMMU,
  'spapr-v2': VFIO_SPAPR_TCE_v2_IOMMU,
  spapr: VFIO_SPAPR_TCE_IOMMU,
};

/** 'auto' asks CHECK_EXTENSION in this order: the newest model of each family first. */
const autoOrder: readonly IommuModel[] = ['type1v2', 'type1', 'spapr-v2', 'spapr'];

export class Container {
  readonly backend: Backend;
  readonly fd: number;
  readonly path: string;
  #closed = false;
  #iommu: Type1 | Spapr | undefined;
  readonly #groups: Group[] = [];
  readonly #buffers = new Set<DmaBuffer>();
  readonly #host: IommuHost;

  private constructor(backend: Backend, fd: number, path: string) {
    this.backend = backend;
    this.fd = fd;
    this.path = path;
    const self = this;
    this.#host = {
      backend,
      fd,
      checkExtension: (extension) => this.checkExtension(extension),
      get groupCount() {
        return self.#groups.length;
      },
      get buffers() {
        return self.#buffers;
      },
      ownBuffer: (buffer) => this.#ownBuffer(buffer),
    };
  }

  /** Opens the container and refuses a kernel whose VFIO_GET_API_VERSION is not the one this package speaks. */
  static open(backend: Backend, options: ContainerOptions = {}): Container {
    const path = options.path ?? '/dev/vfio/vfio';
    const fd = openNode(backend, path);
    try {
      const version = callNone(backend, fd, 'container', 'VFIO_GET_API_VERSION');
      if (version !== VFIO_API_VERSION) {
        throw new VfioTsError(
          'VFIO_TS_API_VERSION_MISMATCH',
          `VFIO_GET_API_VERSION answered ${version}; vfio-ts speaks VFIO API version ${VFIO_API_VERSION}`,
        );
      }
    } catch (error) {
      backend.close(fd);
      throw error;
    }
    return new Container(backend, fd, path);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The groups attached, the most recent last. */
  get groups(): readonly Group[] {
    return [...this.#groups];
  }

  /** The IOMMU set by `setIommu`; undefined before, and again after the last group leaves. */
  get iommu(): Type1 | Spapr | undefined {
    return this.#iommu;
  }

  /** VFIO_CHECK_EXTENSION: 0 when unsupported, positive when supported. */
  checkExtension(extension: number): number {
    this.#live();
    return callInt(this.backend, this.fd, 'container', 'VFIO_CHECK_EXTENSION', extension);
  }

  /**
   * VFIO_SET_IOMMU. Needs a group attached first. 'auto' picks the first model CHECK_EXTENSION accepts
   * (type1v2, type1, spapr-v2, spapr); 'spapr-v2' (and 'auto' on POWER) retries with v1 when a group refuses v2.
   */
  setIommu<K extends IommuChoice>(choice: K, options: SetIommuOptions = {}): IommuFor<K> {
    this.#live();
    if (this.#iommu !== undefined) {
      throw new VfioTsError('VFIO_TS_IOMMU_SET', `VFIO_SET_IOMMU: this container already runs ${this.#iommu.model}`);
    }
    const model = choice === 'auto' ? this.#pickModel() : (choice as IommuModel);
    let iommu: Type1 | Spapr;
    if (model === 'spapr-v2') {
      try {
        callInt(this.backend, this.fd, 'container', 'VFIO_SET_IOMMU', modelType['spapr-v2']);
        iommu = new Spapr(this.#host, 2);
      } catch (error) {
        if (options.fallback === false || !isSystemError(error)) throw error;
        if (this.checkExtension(VFIO_SPAPR_TCE_IOMMU) <= 0) throw error;
        callInt(this.backend, this.fd, 'container', 'VFIO_SET_IOMMU', modelType.spapr);
        iommu = new Spapr(this.#host, 1, error);
      }
    } else {
      callInt(this.backend, this.fd, 'container', 'VFIO_SET_IOMMU', modelType[model]);
      iommu = model === 'spapr' ? new Spapr(this.#host, 1) : new Type1(this.#host, model);
    }
    this.#iommu = iommu;
    return iommu as IommuFor<K>;
  }

  /** Page-rounded anonymous memory for DMA, owned by this container until freed. */
  allocateDma(size: number, options: AllocateDmaOptions = {}): DmaBuffer {
    this.#live();
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new VfioTsError('VFIO_TS_INVALID_ARGUMENT', `allocateDma: size must be a positive integer, not ${size}`);
    }
    const page = this.backend.pageSize;
    const length = Math.ceil(size / page) * page;
    const sys = systemConstants(this.backend.arch);
    const mapping = this.backend.mmap({ length, prot: options.prot ?? sys.PROT_READ | sys.PROT_WRITE });
    const buffer = new DmaBuffer(this, mapping);
    this.#buffers.add(buffer);
    return buffer;
  }

  /** The DMA buffers still allocated. */
  get buffers(): readonly DmaBuffer[] {
    return [...this.#buffers];
  }

  /**
   * Frees every DMA buffer (unmap, unregister, munmap), undoes the IOMMU's windows, detaches the groups (closing
   * their devices first: UNSET_CONTAINER refuses while device fds are open), and closes the fd. Goes on past a
   * failed step and throws the first failure at the end; memory whose unmap failed is kept.
   */
  close(): void {
    if (this.#closed) return;
    const errors: unknown[] = [];
    const attempt = (f: () => void): void => {
      try {
        f();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const buffer of [...this.#buffers]) attempt(() => buffer.free());
    if (this.#iommu !== undefined) attempt(() => this.#iommu![releaseIommu]());
    for (const group of [...this.#groups].reverse()) attempt(() => group[releaseFromContainer]());
    this.#closed = true;
    attempt(() => this.backend.close(this.fd));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      throw new VfioTsError('VFIO_TS_TEARDOWN', `closing the container failed ${errors.length} times`, {
        cause: new AggregateError(errors),
      });
    }
  }

  [disposeSymbol](): void {
    this.close();
  }

  /** For DmaBuffer.free: unmap, then unregister, from whichever IOMMU holds the buffer. */
  [bufferFreed](buffer: DmaBuffer): void {
    const state = buffer[bufferState];
    const iommu = this.#iommu;
    if (iommu !== undefined) {
      if (state.iova !== undefined) iommu.unmap(buffer);
      if (state.registered && iommu instanceof Spapr) iommu.unregisterMemory(buffer);
    }
  }

  [forgetBuffer](buffer: DmaBuffer): void {
    this.#buffers.delete(buffer);
  }

  [groupAttached](group: Group): void {
    this.#groups.push(group);
  }

  /**
   * Before the last group leaves, the kernel will drop the IOMMU context; undo our mappings and registrations first
   * so that nothing stays pinned or charged behind our back (sPAPR keeps a region mapped at release as an orphan).
   */
  [groupDetaching](group: Group): void {
    if (this.#groups.length === 1 && this.#groups[0] === group && this.#iommu !== undefined) {
      this.#iommu[releaseIommu]();
    }
  }

  [groupDetached](group: Group): void {
    const i = this.#groups.indexOf(group);
    if (i >= 0) this.#groups.splice(i, 1);
    if (this.#groups.length > 0) return;
    // The last group gone, the kernel has released the IOMMU driver: every mapping and registration with it.
    this.#iommu = undefined;
    for (const buffer of this.#buffers) {
      buffer[bufferState].iova = undefined;
      buffer[bufferState].registered = false;
    }
  }

  #pickModel(): IommuModel {
    for (const model of autoOrder) if (this.checkExtension(modelType[model]) > 0) return model;
    throw new VfioTsError('VFIO_TS_NO_IOMMU', 'VFIO_CHECK_EXTENSION reports no IOMMU model vfio-ts can drive');
  }

  #ownBuffer(buffer: DmaBuffer): void {
    if (!this.#buffers.has(buffer)) {
      throw new VfioTsError(
        'VFIO_TS_FOREIGN_BUFFER',
        buffer.freed ? 'the DMA buffer was freed' : 'the DMA buffer belongs to another container',
      );
    }
  }

  #live(): void {
    if (this.#closed) throw new VfioTsError('VFIO_TS_CLOSED', 'the container is closed');
  }
}

export type { Iommu };
