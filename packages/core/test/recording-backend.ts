// SPDX-License-Identifier: MIT
/**
 * A Backend that records every call and answers ioctls through a per-test responder: the test states what the
 * "kernel" does (write back, return, fail with an errno), so nothing here answers magic values on its own.
 */
import { type Arch, errnoNumber, ioctlsByNumber } from '@vfio-ts/uapi';
import type { Backend, IoctlArg, IoctlOptions, Mapping, MmapOptions } from '../src/backend.js';
import { VfioSystemError } from '../src/errors.js';

export interface RecordedIoctl {
  readonly fd: number;
  readonly request: number;
  /** What the request number means on a container, group or device fd (several names when numbers alias). */
  readonly names: readonly string[];
  /** The name the caller passed in options. */
  readonly name: string | undefined;
  /** A copy of the buffer as passed (before the responder wrote into it), or the by-value argument. */
  readonly arg: Uint8Array | number | bigint | undefined;
}

export type Responder = (call: RecordedIoctl, buffer: Uint8Array | undefined) => number;

export class RecordingBackend implements Backend {
  readonly name = 'recording';
  readonly littleEndian: boolean;
  readonly pageSize = 4096;
  readonly ioctls: RecordedIoctl[] = [];
  readonly open_fds = new Set<number>();
  readonly closed: number[] = [];
  #next = 3;

  constructor(
    readonly arch: Arch,
    private readonly respond: Responder = () => 0,
    private readonly openError?: string,
  ) {
    this.littleEndian = arch !== 'ppc64';
  }

  open(path: string): number {
    if (this.openError !== undefined) throw VfioSystemError.of(this.openError, { syscall: 'open', path });
    const fd = this.#next++;
    this.open_fds.add(fd);
    return fd;
  }

  close(fd: number): void {
    if (!this.open_fds.delete(fd)) throw VfioSystemError.of('EBADF', { syscall: 'close', fd });
    this.closed.push(fd);
  }

  ioctl(fd: number, request: number, arg?: IoctlArg, options?: IoctlOptions): number {
    const names = ['container', 'group', 'device'].flatMap((k) =>
      ioctlsByNumber(k, request, this.arch).map((s) => s.name),
    );
    const call: RecordedIoctl = {
      fd,
      request,
      names,
      name: options?.name,
      arg: arg instanceof Uint8Array ? arg.slice() : arg,
    };
    this.ioctls.push(call);
    return this.respond(call, arg instanceof Uint8Array ? arg : undefined);
  }

  /** Fails like a backend does: errno, syscall and fd, but no ioctl name or hint of its own. */
  static fail(code: string): never {
    throw new VfioSystemError(errnoNumber(code), { syscall: 'ioctl' });
  }

  pread(): number {
    throw new Error('not used');
  }
  pwrite(): number {
    throw new Error('not used');
  }
  mmap(options: MmapOptions): Mapping {
    return { address: 0x10000n, length: options.length, bytes: new Uint8Array(options.length) };
  }
  munmap(): void {}
  eventfd(): number {
    return this.open(`eventfd`);
  }
  readEventfd(): Promise<bigint> {
    return new Promise(() => {});
  }
  writeEventfd(): void {}
}
