// SPDX-License-Identifier: MIT
/**
 * The one seam between vfio-ts and a kernel: system calls, nothing more.
 *
 * Both `@vfio-ts/backend-sim` (an in-process kernel) and `@vfio-ts/backend-koffi` (real system calls through
 * koffi) implement this interface; the typed API, the conformance suite and the CLI are written once against it.
 * Every method either succeeds or throws a {@link VfioSystemError}; nothing else is ever thrown for a failed call.
 */

import type { Arch } from '@vfio-ts/uapi';

export type { Arch };

/** `PROT_*` bits as the kernel spells them; the values come from the generated uapi package. */
export interface MmapOptions {
  /** Length in bytes; rounded up to the backend's page size by the backend. */
  readonly length: number;
  /** Protection bits (`PROT_READ | PROT_WRITE` by default). */
  readonly prot?: number;
  /** Map a device region: the device fd and the region's offset. Anonymous memory when absent. */
  readonly fd?: number;
  readonly offset?: bigint;
}

/**
 * A mapping in the calling process's address space: anonymous memory for DMA, or a device region.
 * `bytes` is a live view: writes by a device's DMA are visible in it and vice versa.
 * The view is detached (length 0 or throwing) once the mapping is unmapped; never keep it past `munmap`.
 */
export interface Mapping {
  /** The user-space virtual address, what the kernel sees as `vaddr`. */
  readonly address: bigint;
  readonly length: number;
  readonly bytes: Uint8Array;
}

/** What one ioctl call carries: nothing, an integer by value, or a struct buffer the kernel reads and writes. */
export type IoctlArg = Uint8Array | number | bigint | undefined;

export interface IoctlOptions {
  /** The ioctl's name (`VFIO_IOMMU_MAP_DMA`), put into error messages. The number alone is ambiguous. */
  readonly name?: string;
}

export interface Backend {
  /** `'sim'`, `'koffi'`, …: for messages and skips. */
  readonly name: string;
  /** The architecture this backend speaks: its ioctl numbers, struct layouts and byte order. */
  readonly arch: Arch;
  readonly littleEndian: boolean;
  /** The page size of the (real or simulated) process, in bytes. */
  readonly pageSize: number;

  /** open(2). `flags` defaults to `O_RDWR | O_CLOEXEC`. */
  open(path: string, flags?: number): number;
  /** close(2). A closed or unknown fd throws EBADF. */
  close(fd: number): void;
  /**
   * ioctl(2). A `Uint8Array` is passed by pointer and written back in place; a number/bigint is passed by value.
   * Returns the call's non-negative result (the new fd for GET_DEVICE_FD, the answer for CHECK_EXTENSION).
   */
  ioctl(fd: number, request: number, arg?: IoctlArg, options?: IoctlOptions): number;
  /** pread(2): bytes read, at `offset` of the fd (device regions live at `index << 40`). */
  pread(fd: number, buffer: Uint8Array, offset: bigint): number;
  /** pwrite(2): bytes written. */
  pwrite(fd: number, buffer: Uint8Array, offset: bigint): number;
  /**
   * mmap(2): anonymous memory (for DMA) or a device region. Anonymous memory is populated (backed by real pages)
   * before this returns, so that a read-only DMA mapping made before the first write pins the page the process sees,
   * not the shared zero page.
   */
  mmap(options: MmapOptions): Mapping;
  /** munmap(2) of a whole mapping returned by `mmap`. */
  munmap(mapping: Mapping): void;
  /** eventfd(2), for interrupts and request notifications. */
  eventfd(initval?: number, flags?: number): number;
  /** Waits for the eventfd to be signalled and returns (and resets) its counter. */
  readEventfd(fd: number, options?: { readonly signal?: AbortSignal }): Promise<bigint>;
  /** Signals an eventfd from user space (write(2) of a counter increment). */
  writeEventfd(fd: number, value: bigint): void;
}
