// SPDX-License-Identifier: MIT
/**
 * The system-call boundary of one simulated process: implements `Backend`, turns negative errno returns into
 * `VfioSystemError`. Nothing below this file throws for a failed call.
 */

import {
  type Arch,
  type Backend,
  type IoctlArg,
  type IoctlOptions,
  type Mapping,
  type MmapOptions,
  VfioSystemError,
} from '@vfio-ts/core';
import { errnoNumber, systemConstants } from '@vfio-ts/uapi';
import { type EventfdCtx, eventfdFile } from './fd/eventfd.js';
import { coreFdKind, SimFile } from './fd/file.js';
import { iommufdFopsOpen } from './iommufd/main.js';
import type { SimKernel } from './kernel.js';
import type { Process } from './mm/process.js';
import { mmIommuCleanup } from './powerpc/mm-iommu.js';
import { vfioFops, vfioFopsOpen } from './vfio/container.js';
import { vfioDeviceCdevEnabled, vfioDeviceCdevOpenPath } from './vfio/device-cdev.js';
import { vfioGroupFopsOpen } from './vfio/group.js';
import { UserArg } from './vfio/user-arg.js';

const EBADF = errnoNumber('EBADF');
const EINVAL = errnoNumber('EINVAL');
const ENOENT = errnoNumber('ENOENT');
const ENOTTY = errnoNumber('ENOTTY');
const ESPIPE = errnoNumber('ESPIPE');

export class SimProcessBackend implements Backend {
  readonly name = 'sim';
  readonly arch: Arch;
  readonly littleEndian: boolean;
  readonly pageSize: number;
  private readonly sys: ReturnType<typeof systemConstants>;

  constructor(
    readonly kernel: SimKernel,
    /** The simulated process; reach it from tests through @vfio-ts/backend-sim/testing. */
    readonly process: Process,
  ) {
    this.arch = kernel.arch;
    this.littleEndian = kernel.littleEndian;
    this.pageSize = kernel.pageSize;
    this.sys = systemConstants(kernel.arch);
  }

  get pid(): number {
    return this.process.pid;
  }

  open(path: string, _flags?: number): number {
    const file = this.openFile(path);
    if (typeof file === 'number') throw new VfioSystemError(file, { syscall: 'open', path });
    const fd = this.process.fds.install(file);
    if (fd < 0) {
      file.put(this.process);
      throw new VfioSystemError(fd, { syscall: 'open', path });
    }
    return fd;
  }

  private openFile(path: string): SimFile | number {
    if (path === '/dev/vfio/vfio') return new SimFile('container', vfioFops, vfioFopsOpen(this.kernel), path);
    // /dev/iommu and /dev/vfio/devices/vfio<N> exist only on kernels with CONFIG_VFIO_DEVICE_CDEV.
    if (path === '/dev/iommu' && vfioDeviceCdevEnabled(this.kernel)) return iommufdFopsOpen(this.kernel);
    if (path.startsWith('/dev/vfio/devices/')) return vfioDeviceCdevOpenPath(this.kernel, path);
    const m = /^\/dev\/vfio\/(\d+)$/.exec(path);
    const group = m === null ? undefined : this.kernel.vfioGroups.get(Number(m[1]));
    if (group === undefined) return -ENOENT;
    return vfioGroupFopsOpen(group, path) as SimFile | number;
  }

  close(fd: number): void {
    const ret = this.process.fds.close(fd, this.process);
    if (ret < 0) throw new VfioSystemError(ret, { syscall: 'close', fd });
  }

  ioctl(fd: number, request: number, arg?: IoctlArg, options?: IoctlOptions): number {
    const file = this.process.fds.get(fd);
    if (typeof file === 'number') throw this.ioctlError(file, fd, undefined, options);
    const ret =
      file.fops.ioctl === undefined
        ? -ENOTTY
        : file.fops.ioctl(file, request, new UserArg(this.process, arg), this.process);
    if (ret < 0) throw this.ioctlError(ret, fd, file, options);
    return ret;
  }

  private ioctlError(errno: number, fd: number, file: SimFile | undefined, options?: IoctlOptions): VfioSystemError {
    return new VfioSystemError(errno, {
      syscall: 'ioctl',
      fd,
      ...(options?.name !== undefined ? { ioctl: options.name } : {}),
      ...(file !== undefined ? { fdKind: coreFdKind(file.kind) } : {}),
      ...(file?.path !== undefined ? { path: file.path } : {}),
    });
  }

  pread(fd: number, buffer: Uint8Array, offset: bigint): number {
    return this.rw('pread', fd, buffer, offset, false);
  }

  pwrite(fd: number, buffer: Uint8Array, offset: bigint): number {
    return this.rw('pwrite', fd, buffer, offset, true);
  }

  private rw(syscall: string, fd: number, buffer: Uint8Array, offset: bigint, write: boolean): number {
    const file = this.process.fds.get(fd);
    let ret: number;
    if (typeof file === 'number') ret = file;
    else if (file.kind === 'eventfd') ret = -ESPIPE;
    else {
      const op = write ? file.fops.write : file.fops.read;
      ret = op === undefined ? -EINVAL : op(file, buffer, offset, this.process);
    }
    if (ret < 0) throw new VfioSystemError(ret, { syscall, fd });
    return ret;
  }

  mmap(options: MmapOptions): Mapping {
    const prot = options.prot ?? this.sys.PROT_READ | this.sys.PROT_WRITE;
    if (options.fd === undefined) {
      const vma = this.process.mmapAnon(options.length, prot);
      if (typeof vma === 'number') throw new VfioSystemError(vma, { syscall: 'mmap' });
      return { address: vma.start, length: vma.bytes.length, bytes: vma.bytes };
    }
    const file = this.process.fds.get(options.fd);
    let bytes: Uint8Array | number;
    if (typeof file === 'number') bytes = -EBADF;
    else if (options.length <= 0) bytes = -EINVAL;
    else if (file.fops.mmap === undefined) bytes = -EINVAL;
    else {
      const length = Math.ceil(options.length / this.pageSize) * this.pageSize;
      bytes = file.fops.mmap(file, { offset: options.offset ?? 0n, length, prot, shared: true }, this.process);
    }
    if (typeof bytes === 'number') throw new VfioSystemError(bytes, { syscall: 'mmap', fd: options.fd });
    const vma = this.process.mmapPfn(bytes, prot);
    return { address: vma.start, length: bytes.length, bytes };
  }

  munmap(mapping: Mapping): void {
    const vma = this.process.findVma(mapping.address);
    const ret = vma === undefined || vma.start !== mapping.address ? -EINVAL : this.process.munmap(vma);
    if (ret < 0) throw new VfioSystemError(ret, { syscall: 'munmap' });
  }

  eventfd(initval = 0, _flags?: number): number {
    const fd = this.process.fds.install(eventfdFile(BigInt(initval)));
    if (fd < 0) throw new VfioSystemError(fd, { syscall: 'eventfd' });
    return fd;
  }

  private eventfdCtx(fd: number, syscall: string): EventfdCtx {
    const file = this.process.fds.get(fd);
    if (typeof file === 'number') throw new VfioSystemError(file, { syscall, fd });
    if (file.kind !== 'eventfd') throw new VfioSystemError(-EINVAL, { syscall, fd });
    return file.privateData as EventfdCtx;
  }

  async readEventfd(fd: number, options?: { readonly signal?: AbortSignal }): Promise<bigint> {
    const ctx = this.eventfdCtx(fd, 'read');
    await ctx.wait(options?.signal);
    const value = ctx.count;
    ctx.count = 0n;
    return value;
  }

  writeEventfd(fd: number, value: bigint): void {
    this.eventfdCtx(fd, 'write').signal(value);
  }

  /** ≙ exit(2): closes every fd (in fd order) and drops the address space. */
  exit(): void {
    for (const [fd] of [...this.process.fds.entries()]) this.process.fds.close(fd, this.process);
    // ≙ destroy_context -> mm_iommu_cleanup: regions orphaned by UNREGISTER with live TCEs die with the mm.
    mmIommuCleanup(this.process);
    for (const vma of [...this.process.vmas]) this.process.munmap(vma);
    this.process.exited = true;
    this.kernel.processes.delete(this.process.pid);
  }
}
