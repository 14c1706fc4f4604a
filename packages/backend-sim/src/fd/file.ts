// SPDX-License-Identifier: MIT
import type { FdKind } from '@vfio-ts/core';
import type { Process } from '../mm/process.js';
import type { UserArg } from '../vfio/user-arg.js';

/** What an mmap of a file asks for, after the process has validated the generic parts. */
export interface MmapRequest {
  readonly offset: bigint;
  readonly length: number;
  readonly prot: number;
  readonly shared: boolean;
}

/** The simulator's fd kinds: core's `FdKind` plus a device cdev fd and an iommufd (reported as 'device'/'other'). */
export type SimFdKind = FdKind | 'device-cdev' | 'iommufd';

/** The `FdKind` a `VfioSystemError` reports for a simulator fd kind. */
export function coreFdKind(kind: SimFdKind): FdKind {
  return kind === 'device-cdev' ? 'device' : kind === 'iommufd' ? 'other' : kind;
}

/** ≙ struct file_operations: every op returns >= 0 or a negative errno. */
export interface FileOperations<P = unknown> {
  ioctl?(file: SimFile<P>, request: number, arg: UserArg, current: Process): number;
  read?(file: SimFile<P>, buffer: Uint8Array, offset: bigint, current: Process): number;
  write?(file: SimFile<P>, buffer: Uint8Array, offset: bigint, current: Process): number;
  /** Returns the backing bytes of the region to map (a live view) or a negative errno. */
  mmap?(file: SimFile<P>, request: MmapRequest, current: Process): Uint8Array | number;
  /** ≙ .release: runs when the last reference to the file is dropped (not on every close(2)). */
  release?(file: SimFile<P>, current: Process): void;
}

/** ≙ struct file: refcounted, so a device fd can keep its group's file alive after the group fd is closed. */
export class SimFile<P = unknown> {
  private refs = 1;
  constructor(
    readonly kind: SimFdKind,
    readonly fops: FileOperations<P>,
    public privateData: P,
    readonly path?: string,
  ) {}

  get released(): boolean {
    return this.refs === 0;
  }

  /** ≙ get_file */
  get(): this {
    this.refs++;
    return this;
  }

  /** ≙ fput */
  put(current: Process): void {
    this.refs--;
    if (this.refs === 0) this.fops.release?.(this, current);
  }
}
