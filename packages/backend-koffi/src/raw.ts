// SPDX-License-Identifier: MIT
/**
 * The only file in vfio-ts that calls koffi: one thin binding per libc function, nothing else.
 *
 * Every wrapper returns the call's raw result; when the result says failure, the errno captured right after the call
 * is available from {@link lastErrno} (read before any other FFI call can overwrite the thread's errno). Checking
 * arguments, owning memory and turning errno into errors is `backend.ts`'s job.
 *
 * Each call carries a `// FFI:` comment in the spirit of rust-vmm's `// SAFETY:`: what memory the C side may touch,
 * for how long, and who guarantees its size.
 */

import { createRequire } from 'node:module';

/** The subset of koffi's API used here; typed locally so that nothing else in the package can reach koffi. */
interface Koffi {
  load(path: string): { func(signature: string): KoffiFn; func(name: string, result: string, args: string[]): KoffiFn };
  errno(): number;
  view(pointer: bigint, length: number): ArrayBuffer;
  node: {
    poll(fd: number, opts: { readable?: boolean }, callback: (ev: { readable: boolean }) => void): PollHandle;
  };
  version: string;
}
type KoffiFn = ((...args: unknown[]) => any) & {
  async: (...args: unknown[]) => void;
};

export interface PollHandle {
  close(): void;
}

export interface Libc {
  readonly koffiVersion: string;
  open(path: string, flags: number, mode: number): number;
  close(fd: number): number;
  ioctlPtr(fd: number, request: number, arg: Uint8Array | null): number;
  ioctlInt(fd: number, request: number, arg: number | bigint): number;
  pread(fd: number, buffer: Uint8Array, offset: bigint): number;
  pwrite(fd: number, buffer: Uint8Array, offset: bigint): number;
  read(fd: number, buffer: Uint8Array): number;
  write(fd: number, buffer: Uint8Array): number;
  mmap(address: bigint, length: number, prot: number, flags: number, fd: number, offset: bigint): bigint;
  munmap(address: bigint, length: number): number;
  eventfd(initval: number, flags: number): number;
  pipe(): { result: number; fds: [number, number] };
  getpagesize(): number;
  /** A zero-copy view of `length` bytes at `address`; the memory must stay mapped while the view is reachable. */
  view(address: bigint, length: number): ArrayBuffer;
  /** Waits (on libuv's event loop, no thread) for `fd` to become readable. */
  pollReadable(fd: number, callback: () => void): PollHandle;
  /** Calls a trivial libc function: the floor of koffi's own per-call overhead, for the benchmark. */
  abs(value: number): number;
}

let errnoAfterCall = 0;

/** The errno of the most recent failed call made through this module (0 after a successful one). */
export function lastErrno(): number {
  return errnoAfterCall;
}

let cached: Libc | undefined;

/**
 * Loads koffi and glibc's `libc.so.6`. Lazy and synchronous on purpose: `backend.ts` checks the platform first, so an
 * unsupported host gets vfio-ts's own error instead of koffi's missing-binary message.
 */
export function loadLibc(): Libc {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as Koffi;
  const lib = koffi.load('libc.so.6');

  // Fixed prototypes for variadic functions (open, ioctl): koffi cannot call variadics asynchronously, and these
  // two take exactly one optional argument of pointer or integer class, which every supported ABI passes in the
  // same register as a fixed parameter.
  const open = lib.func('int open(const char *path, int flags, int mode)');
  const close = lib.func('int close(int fd)');
  const ioctlPtr = lib.func('int ioctl(int fd, unsigned long request, void *arg)');
  const ioctlInt = lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']);
  const pread = lib.func('long pread(int fd, void *buf, size_t count, int64_t offset)');
  const pwrite = lib.func('long pwrite(int fd, const void *buf, size_t count, int64_t offset)');
  const read = lib.func('long read(int fd, void *buf, size_t count)');
  const write = lib.func('long write(int fd, const void *buf, size_t count)');
  const mmap = lib.func('mmap', 'uintptr_t', ['uintptr_t', 'size_t', 'int', 'int', 'int', 'int64_t']);
  const munmap = lib.func('munmap', 'int', ['uintptr_t', 'size_t']);
  const eventfd = lib.func('int eventfd(unsigned int initval, int flags)');
  const pipe = lib.func('int pipe(_Out_ int *fds)');
  const getpagesize = lib.func('int getpagesize(void)');
  const abs = lib.func('int abs(int value)');

  const capture = (result: number): number => {
    errnoAfterCall = result < 0 ? koffi.errno() : 0;
    return result;
  };

  cached = {
    koffiVersion: koffi.version,
    // FFI: `path` is copied by koffi into a NUL-terminated temporary that lives for the call; the kernel copies it.
    open: (path, flags, mode) => capture(open(path, flags, mode)),
    // FFI: integers only.
    close: (fd) => capture(close(fd)),
    // FFI: `arg` (or NULL) is passed as a pointer to the Uint8Array's own bytes (byteOffset honoured), valid only for
    // the duration of the call; the kernel reads and writes at most `argsz` bytes of it, and backend.ts has checked
    // that argsz and the ioctl's minimum size both fit in `arg.length` before we get here.
    ioctlPtr: (fd, request, arg) => capture(ioctlPtr(fd, request, arg)),
    // FFI: integers only; the kernel never dereferences `arg` for by-value ioctls.
    ioctlInt: (fd, request, arg) => capture(ioctlInt(fd, request, arg)),
    // FFI: the kernel writes at most `buffer.length` bytes into `buffer`, valid for the duration of the call.
    pread: (fd, buffer, offset) => capture(Number(pread(fd, buffer, buffer.length, offset))),
    // FFI: the kernel reads at most `buffer.length` bytes from `buffer`, valid for the duration of the call.
    pwrite: (fd, buffer, offset) => capture(Number(pwrite(fd, buffer, buffer.length, offset))),
    // FFI: as pread, at the fd's file position.
    read: (fd, buffer) => capture(Number(read(fd, buffer, buffer.length))),
    // FFI: as pwrite, at the fd's file position.
    write: (fd, buffer) => capture(Number(write(fd, buffer, buffer.length))),
    // FFI: no JS memory crosses; the returned range belongs to the caller until munmap. Declared with `uintptr_t`
    // so the address is a plain bigint; MAP_FAILED is recognised by the caller, so errno is always captured here.
    mmap: (address, length, prot, flags, fd, offset) => {
      const result = BigInt(mmap(address, length, prot, flags, fd, offset));
      errnoAfterCall = koffi.errno();
      return result;
    },
    // FFI: the caller guarantees no live view of [address, address + length) is read after this returns.
    munmap: (address, length) => capture(munmap(address, length)),
    // FFI: integers only.
    eventfd: (initval, flags) => capture(eventfd(initval, flags)),
    // FFI: koffi allocates the int[2] for the call and copies it back into `fds` (an _Out_ parameter).
    pipe: () => {
      const fds: [number, number] = [-1, -1];
      const result = capture(pipe(fds));
      return { result, fds };
    },
    // FFI: no arguments.
    getpagesize: () => getpagesize(),
    // FFI: the ArrayBuffer aliases [address, address + length) without owning it; backend.ts keeps that range mapped
    // (the real mapping, or a placeholder after munmap) for as long as the ArrayBuffer can be reached.
    view: (address, length) => koffi.view(address, length),
    // FFI: libuv polls the fd; no memory is shared.
    pollReadable: (fd, callback) => koffi.node.poll(fd, { readable: true }, () => callback()),
    // FFI: integers only.
    abs: (value) => abs(value),
  };
  return cached;
}
