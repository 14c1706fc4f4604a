// SPDX-License-Identifier: MIT
/**
 * The sPAPR TCE IOMMU (POWER): DMA goes through windows of TCE tables. v2 pre-registers (pins and charges) memory
 * and lets the user create and remove windows; v1 has only the 32-bit default window, charged whole at ENABLE.
 * The client sequence is QEMU's hw/vfio/spapr.c: pre-register before mapping, create windows with a levels retry,
 * check the start address the kernel chose.
 */
import {
  type StructInit,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_EEH,
  VFIO_EEH_PE_GET_STATE,
  VFIO_IOMMU_SPAPR_INFO_DDW,
  type VfioEehPeErr,
} from '@vfio-ts/uapi';
import type { DmaBuffer } from '../dma-buffer.js';
import { isSystemError, VfioTsError } from '../errors.js';
import { callNone, callStruct } from '../internal/ioctl.js';
import { IovaAllocator } from '../internal/iova-allocator.js';
import { bufferState, releaseIommu } from '../internal/links.js';
import { type DmaMapOptions, dmaFlags, type Iommu, type IommuHost } from './iommu.js';

export interface SpaprInfo {
  readonly flags: number;
  readonly dma32WindowStart: bigint;
  readonly dma32WindowSize: bigint;
  /** Dynamic DMA windows: present on v2 containers of groups that support them. */
  readonly ddw:
    | { readonly pgsizes: bigint; readonly maxDynamicWindowsSupported: number; readonly levels: number }
    | undefined;
}

export interface DmaWindow {
  readonly startAddr: bigint;
  readonly windowSize: bigint;
  /** log2 of the IOMMU page size of the window's TCEs. */
  readonly pageShift: number;
  readonly levels: number;
  /** The 32-bit window the kernel creates by itself (lazily, at the first MAP/UNMAP/CREATE). */
  readonly isDefault: boolean;
}

export interface CreateWindowOptions {
  readonly pageShift: number;
  /** A power of two. */
  readonly windowSize: bigint;
  /** TCE table levels; guessed as QEMU does, and raised while the kernel answers ENOMEM, when absent. */
  readonly levels?: number;
  /** Where the window must start; a window the kernel places elsewhere is removed again and refused. */
  readonly startAddr?: bigint;
}

export interface SpaprMapOptions extends DmaMapOptions {
  /** The window to map into; by default the one holding `iova`, else the newest created window, else the default. */
  readonly window?: DmaWindow;
}

/** The kernel's default window uses 4 KiB TCEs (IOMMU_PAGE_SHIFT_4K in tce_iommu_create_default_window). */
const defaultWindowPageShift = 12;

interface WindowRecord {
  window: DmaWindow;
  allocator: IovaAllocator;
}

export class Spapr implements Iommu {
  readonly model: 'spapr-v2' | 'spapr';
  /** 2 or 1: what the container really runs (a group may refuse v2, and then v1 is used). */
  readonly version: 1 | 2;
  /** When v2 was asked for and refused: the kernel's error for v2. */
  readonly fallbackReason: Error | undefined;
  readonly #host: IommuHost;
  #info: SpaprInfo | undefined;
  #enabled = false;
  readonly #windows: WindowRecord[] = [];
  #defaultRemoved = false;
  readonly #mapped = new Map<DmaBuffer, { iova: bigint; record: WindowRecord }>();
  readonly #registered = new Set<DmaBuffer>();

  /** Use `container.setIommu('spapr-v2')`. */
  constructor(host: IommuHost, version: 1 | 2, fallbackReason?: Error) {
    this.#host = host;
    this.version = version;
    this.model = version === 2 ? 'spapr-v2' : 'spapr';
    this.fallbackReason = fallbackReason;
  }

  /** VFIO_IOMMU_SPAPR_TCE_GET_INFO: the platform's static answer, cached. */
  info(): SpaprInfo {
    if (this.#info === undefined) {
      const { backend, fd } = this.#host;
      const { value } = callStruct(backend, fd, 'container', 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', {});
      this.#info = {
        flags: value.flags,
        dma32WindowStart: BigInt(value.dma32WindowStart),
        dma32WindowSize: BigInt(value.dma32WindowSize),
        ddw: (value.flags & VFIO_IOMMU_SPAPR_INFO_DDW) !== 0 ? { ...value.ddw } : undefined,
      };
    }
    return this.#info;
  }

  /** The 32-bit window every container starts with; undefined once removed. */
  get defaultWindow(): DmaWindow | undefined {
    return this.#defaultRecord()?.window;
  }

  /** The windows DMA can go through now. */
  get windows(): readonly DmaWindow[] {
    const all = this.#windows.map((w) => w.window);
    const d = this.defaultWindow;
    return d === undefined ? all : [d, ...all];
  }

  /** v1: VFIO_IOMMU_ENABLE, which charges the whole 32-bit window to locked_vm. */
  enable(): void {
    this.#requireVersion(1, 'VFIO_IOMMU_ENABLE');
    callNone(this.#host.backend, this.#host.fd, 'container', 'VFIO_IOMMU_ENABLE');
    this.#enabled = true;
  }

  /** v1: VFIO_IOMMU_DISABLE. Mappings stay but cannot change until the next enable. */
  disable(): void {
    this.#requireVersion(1, 'VFIO_IOMMU_DISABLE');
    callNone(this.#host.backend, this.#host.fd, 'container', 'VFIO_IOMMU_DISABLE');
    this.#enabled = false;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** v2: VFIO_IOMMU_SPAPR_REGISTER_MEMORY of the whole buffer (pins it and charges locked_vm). */
  registerMemory(buffer: DmaBuffer): void {
    this.#requireVersion(2, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY');
    this.#host.ownBuffer(buffer);
    const state = buffer[bufferState];
    if (state.registered)
      throw new VfioTsError('VFIO_TS_DMA_ALREADY_REGISTERED', 'the DMA buffer is already registered');
    callStruct(this.#host.backend, this.#host.fd, 'container', 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', {
      vaddr: buffer.address,
      size: BigInt(buffer.length),
    });
    state.registered = true;
    this.#registered.add(buffer);
  }

  /**
   * v2: VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY. Refused while the buffer is mapped: current kernels would answer 0 and
   * leave the memory pinned and charged until the process exits, older ones EBUSY (DPDK: unmap before unregister).
   */
  unregisterMemory(buffer: DmaBuffer): void {
    this.#requireVersion(2, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY');
    const state = buffer[bufferState];
    if (!this.#registered.has(buffer)) {
      throw new VfioTsError('VFIO_TS_DMA_NOT_REGISTERED', 'the DMA buffer is not registered with this container');
    }
    if (state.iova !== undefined) {
      throw new VfioTsError(
        'VFIO_TS_DMA_BUFFER_MAPPED',
        'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY refused: the buffer is still mapped for DMA; unmap it first',
      );
    }
    callStruct(this.#host.backend, this.#host.fd, 'container', 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', {
      vaddr: buffer.address,
      size: BigInt(buffer.length),
    });
    state.registered = false;
    this.#registered.delete(buffer);
  }

  /**
   * v2: VFIO_IOMMU_SPAPR_TCE_CREATE. Without `levels`, starts from QEMU's guess (enough levels that no level
   * outgrows 2^8 system pages) and adds a level while the kernel cannot allocate the table (ENOMEM), up to what
   * the platform allows. Other errors are not retried: on real kernels each failed create may keep its charge.
   */
  createWindow(options: CreateWindowOptions): DmaWindow {
    this.#requireVersion(2, 'VFIO_IOMMU_SPAPR_TCE_CREATE');
    const { backend, fd } = this.#host;
    const info = this.info();
    const pageBits = log2(BigInt(backend.pageSize));
    const platformMax = info.ddw?.levels ?? 1;
    const addressMax = Math.max(1, Math.floor((64 - options.pageShift) / pageBits));
    const maxLevels = Math.max(1, Math.min(platformMax, addressMax));
    let levels = options.levels ?? Math.min(guessLevels(options.windowSize, options.pageShift, pageBits), maxLevels);
    let startAddr: bigint;
    for (;;) {
      try {
        const { value } = callStruct(backend, fd, 'container', 'VFIO_IOMMU_SPAPR_TCE_CREATE', {
          pageShift: options.pageShift,
          windowSize: options.windowSize,
          levels,
        });
        startAddr = value.startAddr;
        break;
      } catch (error) {
        if (options.levels !== undefined || levels >= maxLevels || !isSystemError(error, 'ENOMEM')) throw error;
        levels++;
      }
    }
    const window: DmaWindow = {
      startAddr,
      windowSize: options.windowSize,
      pageShift: options.pageShift,
      levels,
      isDefault: false,
    };
    if (options.startAddr !== undefined && startAddr !== options.startAddr) {
      callStruct(backend, fd, 'container', 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr });
      throw new VfioTsError(
        'VFIO_TS_WINDOW_START',
        `VFIO_IOMMU_SPAPR_TCE_CREATE placed the window at 0x${startAddr.toString(16)}, not at ` +
          `0x${options.startAddr.toString(16)}; it was removed again`,
      );
    }
    this.#windows.push({ window, allocator: windowAllocator(window) });
    return window;
  }

  /**
   * v2: VFIO_IOMMU_SPAPR_TCE_REMOVE. The buffers mapped in the window are unmapped first, so that this object's
   * view of what the device can reach stays the kernel's.
   */
  removeWindow(window: DmaWindow): void {
    this.#requireVersion(2, 'VFIO_IOMMU_SPAPR_TCE_REMOVE');
    const record = window.isDefault ? this.#defaultRecord() : this.#windows.find((w) => w.window === window);
    if (record === undefined) throw new VfioTsError('VFIO_TS_NO_WINDOW', 'no such DMA window in this container');
    for (const [buffer, m] of [...this.#mapped]) if (m.record === record) this.unmap(buffer);
    callStruct(this.#host.backend, this.#host.fd, 'container', 'VFIO_IOMMU_SPAPR_TCE_REMOVE', {
      startAddr: window.startAddr,
    });
    if (window.isDefault) this.#defaultRemoved = true;
    else this.#windows.splice(this.#windows.indexOf(record), 1);
  }

  /**
   * VFIO_IOMMU_MAP_DMA into a window. v2 registers the buffer first if it is not; v1 enables the container first.
   * The range is checked against the window here: the kernel checks only its first page, and a range running past
   * a window's end has crashed real kernels.
   */
  map(buffer: DmaBuffer, options: SpaprMapOptions = {}): bigint {
    this.#host.ownBuffer(buffer);
    const state = buffer[bufferState];
    if (state.iova !== undefined) {
      throw new VfioTsError(
        'VFIO_TS_DMA_ALREADY_MAPPED',
        `the DMA buffer is already mapped at 0x${state.iova.toString(16)}`,
      );
    }
    const record = this.#chooseWindow(options);
    const { window } = record;
    const size = BigInt(buffer.length);
    const page = 1n << BigInt(window.pageShift);
    if (size % page !== 0n || buffer.address % page !== 0n) {
      throw new VfioTsError(
        'VFIO_TS_INVALID_ARGUMENT',
        `VFIO_IOMMU_MAP_DMA: the buffer (${size} bytes) is not made of whole ${page}-byte IOMMU pages of the window`,
      );
    }
    let iova = options.iova;
    if (iova !== undefined) {
      if (iova % page !== 0n) {
        throw new VfioTsError(
          'VFIO_TS_INVALID_ARGUMENT',
          `VFIO_IOMMU_MAP_DMA: IOVA 0x${iova.toString(16)} is not aligned to ${page}`,
        );
      }
      if (!record.allocator.reserve(iova, size)) {
        throw new VfioTsError(
          'VFIO_TS_OUT_OF_WINDOW',
          `VFIO_IOMMU_MAP_DMA: [0x${iova.toString(16)}, +0x${size.toString(16)}) is not free inside the window at ` +
            `0x${window.startAddr.toString(16)}`,
        );
      }
    } else {
      iova = record.allocator.allocate(size, page);
    }
    const autoRegister = this.version === 2 && !state.registered;
    try {
      if (this.version === 1 && !this.#enabled) this.enable();
      if (autoRegister) this.registerMemory(buffer);
      const { result } = callStruct(this.#host.backend, this.#host.fd, 'container', 'VFIO_IOMMU_MAP_DMA', {
        flags: dmaFlags(options, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE),
        vaddr: buffer.address,
        iova,
        size,
      });
      if (result !== 0) throw unexpected('VFIO_IOMMU_MAP_DMA', result);
    } catch (error) {
      record.allocator.release(iova);
      if (autoRegister && state.registered) this.unregisterMemory(buffer);
      throw error;
    }
    state.iova = iova;
    this.#mapped.set(buffer, { iova, record });
    return iova;
  }

  /** VFIO_IOMMU_UNMAP_DMA of the buffer's range. Its registration (v2) stays until `unregisterMemory` or `free`. */
  unmap(buffer: DmaBuffer): void {
    const m = this.#mapped.get(buffer);
    if (m === undefined) throw new VfioTsError('VFIO_TS_DMA_NOT_MAPPED', 'the DMA buffer is not mapped by this IOMMU');
    const { result } = callStruct(this.#host.backend, this.#host.fd, 'container', 'VFIO_IOMMU_UNMAP_DMA', {
      iova: m.iova,
      size: BigInt(buffer.length),
    });
    if (result !== 0) throw unexpected('VFIO_IOMMU_UNMAP_DMA', result);
    buffer[bufferState].iova = undefined;
    this.#mapped.delete(buffer);
    m.record.allocator.release(m.iova);
  }

  /**
   * VFIO_EEH_PE_OP. Only on a container with one group: the kernel applies the op to every group's PE and stops at
   * the first answer, so with several groups the result belongs to none in particular (QEMU refuses too).
   */
  eehOp(op: number, err?: StructInit<VfioEehPeErr>): number {
    if (this.#host.groupCount !== 1) {
      throw new VfioTsError('VFIO_TS_EEH_MULTI_GROUP', 'VFIO_EEH_PE_OP needs a container with exactly one group');
    }
    if (this.#host.checkExtension(VFIO_EEH) <= 0) {
      throw new VfioTsError('VFIO_TS_NO_EEH', 'VFIO_EEH_PE_OP: the kernel reports no EEH support (CHECK_EXTENSION)');
    }
    const { result } = callStruct(this.#host.backend, this.#host.fd, 'container', 'VFIO_EEH_PE_OP', {
      op,
      ...(err !== undefined ? { err } : {}),
    });
    return result;
  }

  /** VFIO_EEH_PE_GET_STATE: one of vfioEehPeState. */
  eehState(): number {
    return this.eehOp(VFIO_EEH_PE_GET_STATE);
  }

  /** Mappings, then created windows, then registrations, then v1's enable: the reverse of how they were made. */
  [releaseIommu](): void {
    const errors: unknown[] = [];
    const attempt = (f: () => void): void => {
      try {
        f();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const buffer of [...this.#mapped.keys()]) attempt(() => this.unmap(buffer));
    for (const record of [...this.#windows]) {
      if (![...this.#mapped.values()].some((m) => m.record === record)) attempt(() => this.removeWindow(record.window));
    }
    for (const buffer of [...this.#registered]) {
      if (buffer[bufferState].iova === undefined) attempt(() => this.unregisterMemory(buffer));
    }
    if (this.version === 1 && this.#enabled) attempt(() => this.disable());
    if (errors.length > 0) throw errors[0];
  }

  #requireVersion(version: 1 | 2, ioctl: string): void {
    if (this.version !== version) {
      throw new VfioTsError(
        'VFIO_TS_WRONG_IOMMU',
        `${ioctl} is sPAPR v${version} only; this container runs v${this.version}` +
          (this.fallbackReason !== undefined ? ` (v2 was refused: ${this.fallbackReason.message})` : ''),
      );
    }
  }

  #defaultRecordCache: WindowRecord | undefined;

  #defaultRecord(): WindowRecord | undefined {
    if (this.#defaultRemoved) return undefined;
    if (this.#defaultRecordCache === undefined) {
      const info = this.info();
      const window: DmaWindow = {
        startAddr: info.dma32WindowStart,
        windowSize: info.dma32WindowSize,
        pageShift: defaultWindowPageShift,
        levels: 1,
        isDefault: true,
      };
      this.#defaultRecordCache = { window, allocator: windowAllocator(window) };
    }
    return this.#defaultRecordCache;
  }

  #chooseWindow(options: SpaprMapOptions): WindowRecord {
    const all = [...this.#windows].reverse();
    const d = this.#defaultRecord();
    if (d !== undefined) all.push(d);
    let found: WindowRecord | undefined;
    if (options.window !== undefined) found = all.find((r) => r.window === options.window);
    else if (options.iova !== undefined) found = all.find((r) => contains(r.window, options.iova!));
    else found = all[0];
    if (found === undefined) {
      throw new VfioTsError(
        'VFIO_TS_OUT_OF_WINDOW',
        'VFIO_IOMMU_MAP_DMA: no DMA window ' +
          (options.iova !== undefined ? `holds IOVA 0x${options.iova.toString(16)}` : 'is open: create one first'),
      );
    }
    return found;
  }
}

function contains(window: DmaWindow, iova: bigint): boolean {
  return iova >= window.startAddr && iova < window.startAddr + window.windowSize;
}

function windowAllocator(window: DmaWindow): IovaAllocator {
  return new IovaAllocator([{ start: window.startAddr, end: window.startAddr + window.windowSize - 1n }]);
}

function log2(value: bigint): number {
  return value.toString(2).length - 1;
}

/** QEMU's vfio_spapr_create_window guess: split the TCE index bits so that no level outgrows 2^8 system pages. */
export function guessLevels(windowSize: bigint, pageShift: number, pageBits: number): number {
  const entries = windowSize >> BigInt(pageShift);
  if (entries === 0n) return 1;
  const bitsTotal = log2(entries * 8n);
  const bitsPerLevel = pageBits + 8;
  return Math.max(1, Math.ceil(bitsTotal / bitsPerLevel));
}

function unexpected(ioctl: string, result: number): VfioTsError {
  return new VfioTsError('VFIO_TS_UNEXPECTED_RESULT', `${ioctl} returned ${result} instead of 0: nothing was changed`);
}
