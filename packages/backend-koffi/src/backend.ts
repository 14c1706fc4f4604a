// SPDX-License-Identifier: MIT
/**
 * The vfio-ts Backend over real system calls. Everything unsafe happens in raw.ts; this file decides what may reach
 * it: buffers at least as long as the kernel will touch, memory that stays mapped while a view of it exists, errno
 * turned into Node-style errors that name the ioctl.
 */

import { readFileSync } from 'node:fs';
import {
  type Backend,
  type FdKind,
  type IoctlArg,
  type IoctlOptions,
  type Mapping,
  type MmapOptions,
  VfioSystemError,
  VfioTsError,
} from '@vfio-ts/core';
import {
  type Arch,
  codec,
  errnoName,
  errnoNumber,
  type IoctlName,
  type IoctlSpec,
  ioctlNumber,
  ioctls,
  type SystemConstants,
  systemConstants,
} from '@vfio-ts/uapi';
import { ioctlHint, openHint } from './hints.js';
import { currentPlatform, detectArch, type PlatformInfo } from './platform.js';
import { type Libc, lastErrno, loadLibc } from './raw.js';

export interface KoffiBackendOptions {
  /** The platform to check instead of this process's own; for tests of the refusal path. */
  readonly platform?: PlatformInfo;
}

export interface KoffiBackend extends Backend {
  readonly name: 'koffi';
  /** The koffi version making the calls. */
  readonly koffiVersion: string;
  /** Mappings made by this backend and not yet unmapped (for leak checks in tests). */
  readonly liveMappings: number;
  /** Fds opened or created through this backend and not yet closed (for leak checks in tests). */
  readonly openFds: ReadonlyMap<number, FdKind>;
}

/**
 * Creates the backend, or throws `VFIO_TS_UNSUPPORTED_PLATFORM` on a host it cannot serve (another OS, big-endian
 * ppc64, a non-glibc Linux) and `VFIO_TS_KOFFI_UNAVAILABLE` when koffi has no binary for this host.
 */
export function createKoffiBackend(options: KoffiBackendOptions = {}): KoffiBackend {
  const arch = detectArch(options.platform ?? currentPlatform());
  let libc: Libc;
  try {
    libc = loadLibc();
  } catch (cause) {
    throw new VfioTsError(
      'VFIO_TS_KOFFI_UNAVAILABLE',
      `koffi could not load libc.so.6 on linux-${process.arch} (is its prebuilt @koromix/koffi-linux-* binary ` +
        `installed?): ${(cause as Error).message}; without it use @vfio-ts/backend-sim`,
      { cause },
    );
  }
  return new KoffiBackendImpl(arch, libc);
}

/** How `ioctl` checks a named request's argument before the call; computed once per name. */
interface ArgRule {
  readonly request: number;
  readonly kind: string;
  /** Bytes the kernel reads or writes before it looks at argsz (its `minsz`), or the pointee size. */
  readonly minBytes: number;
  /** Offset of the struct's `argsz` member, when it has one. */
  readonly argszOffset: number | undefined;
}

/** Sentinel for names that are not VFIO ioctls of @vfio-ts/uapi (FIONREAD, …): only the name is reported. */
const untracked: ArgRule = { request: -1, kind: 'untracked', minBytes: 0, argszOffset: undefined };

interface Reader {
  resolve(value: bigint): void;
  reject(error: unknown): void;
  /** Removes the reader's abort listener. */
  detach(): void;
}

interface Watch {
  handle: { close(): void } | undefined;
  /** Oldest first: each readiness report serves the oldest reader. */
  readonly readers: Reader[];
}

/** What a FinalizationRegistry needs to give a placeholder's address space back once no view can reach it. */
interface Released {
  readonly address: bigint;
  readonly length: number;
  released: boolean;
}

class KoffiBackendImpl implements KoffiBackend {
  readonly name = 'koffi' as const;
  readonly arch: Arch;
  /** detectArch admits little-endian ABIs only (koffi has no big-endian ppc64 binary). */
  readonly littleEndian = true;
  readonly pageSize: number;
  readonly koffiVersion: string;

  readonly #libc: Libc;
  readonly #sc: SystemConstants;
  readonly #rules = new Map<string, ArgRule>();
  readonly #fds = new Map<number, FdKind>();
  readonly #mappings = new Map<bigint, { mapping: Mapping; state: Released }>();
  readonly #placeholders: FinalizationRegistry<Released>;
  /** One libuv poll per eventfd with pending readEventfd calls (libuv allows one poll handle per fd). */
  readonly #watches = new Map<number, Watch>();

  constructor(arch: Arch, libc: Libc) {
    this.arch = arch;
    this.#libc = libc;
    this.koffiVersion = libc.koffiVersion;
    this.pageSize = libc.getpagesize();
    this.#sc = systemConstants(arch);
    this.#placeholders = new FinalizationRegistry((state) => {
      // FFI safety: the ArrayBuffer that aliased this range is unreachable, so nothing can read it any more.
      if (state.released) libc.munmap(state.address, state.length);
    });
  }

  get liveMappings(): number {
    return this.#mappings.size;
  }

  get openFds(): ReadonlyMap<number, FdKind> {
    return this.#fds;
  }

  open(path: string, flags?: number): number {
    const fd = this.#libc.open(path, flags ?? this.#sc.O_RDWR | this.#sc.O_CLOEXEC, 0);
    if (fd < 0) {
      const errno = lastErrno();
      const hint = openHint(path, errnoName(errno, this.arch) ?? '');
      throw new VfioSystemError(errno, { syscall: 'open', path, ...(hint === undefined ? {} : { hint }) });
    }
    this.#fds.set(fd, fdKindOfPath(path));
    return fd;
  }

  close(fd: number): void {
    const fdKind = this.#fds.get(fd);
    // libuv must stop polling an fd before it is closed (a closed fd can never become readable, and its number may
    // be reused), so pending readEventfd calls on it end now, as a read of a closed fd would.
    this.#endWatch(
      fd,
      new VfioSystemError(errnoNumber('EBADF', this.arch), { syscall: 'read', fd, hint: 'the fd was closed' }),
    );
    // Forget the fd even on failure: after close(2) fails (EINTR, EIO) Linux has released the descriptor anyway.
    this.#fds.delete(fd);
    if (this.#libc.close(fd) < 0) throw new VfioSystemError(lastErrno(), { syscall: 'close', fd, ...kind(fdKind) });
  }

  ioctl(fd: number, request: number, arg?: IoctlArg, options?: IoctlOptions): number {
    const name = options?.name;
    const rule = name === undefined ? untracked : this.#rule(name);
    if (rule !== untracked) this.#check(name!, rule, request, arg);
    const result =
      arg instanceof Uint8Array ? this.#libc.ioctlPtr(fd, request, arg) : this.#libc.ioctlInt(fd, request, arg ?? 0);
    if (result < 0) {
      const errno = lastErrno();
      const fdKind = this.#fds.get(fd);
      const ioctl = name ?? `ioctl 0x${request.toString(16)}`;
      const hint = ioctlHint(name, errnoName(errno, this.arch) ?? '');
      throw new VfioSystemError(errno, {
        syscall: 'ioctl',
        ioctl,
        fd,
        ...kind(fdKind),
        ...(hint === undefined ? {} : { hint }),
      });
    }
    if (name === 'VFIO_GROUP_GET_DEVICE_FD') this.#fds.set(result, 'device');
    return result;
  }

  pread(fd: number, buffer: Uint8Array, offset: bigint): number {
    const n = this.#libc.pread(fd, buffer, offset);
    if (n < 0) throw new VfioSystemError(lastErrno(), { syscall: 'pread', fd, ...kind(this.#fds.get(fd)) });
    return n;
  }

  pwrite(fd: number, buffer: Uint8Array, offset: bigint): number {
    const n = this.#libc.pwrite(fd, buffer, offset);
    if (n < 0) throw new VfioSystemError(lastErrno(), { syscall: 'pwrite', fd, ...kind(this.#fds.get(fd)) });
    return n;
  }

  mmap(options: MmapOptions): Mapping {
    const { length } = options;
    if (!Number.isSafeInteger(length) || length <= 0) {
      // What mmap(2) answers for a zero length; the Backend contract admits only errno-shaped failures.
      throw new VfioSystemError(errnoNumber('EINVAL', this.arch), {
        syscall: 'mmap',
        hint: `length must be a positive integer, got ${length}`,
      });
    }
    const rounded = Math.ceil(length / this.pageSize) * this.pageSize;
    const prot = options.prot ?? this.#sc.PROT_READ | this.#sc.PROT_WRITE;
    const anonymous = options.fd === undefined;
    // Anonymous memory is populated at once (write faults for a writable mapping): a read-only DMA pin of a page the
    // process never touched pins the shared zero page, and the device never sees what the process writes there later
    // (seen on the real 6.1 x86_64 guest). Populated, the real kernel matches the simulator's model of mmap.
    const flags = anonymous
      ? this.#sc.MAP_PRIVATE | this.#sc.MAP_ANONYMOUS | this.#sc.MAP_POPULATE
      : this.#sc.MAP_SHARED;
    const address = this.#libc.mmap(0n, rounded, prot, flags, options.fd ?? -1, options.offset ?? 0n);
    if (this.#failed(address)) {
      const fd = options.fd;
      throw new VfioSystemError(lastErrno(), {
        syscall: 'mmap',
        ...(fd === undefined ? {} : { fd, ...kind(this.#fds.get(fd)) }),
      });
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(this.#libc.view(address, rounded));
    } catch (cause) {
      this.#libc.munmap(address, rounded);
      throw new VfioTsError(
        'VFIO_TS_NO_EXTERNAL_BUFFERS',
        'this runtime forbids external ArrayBuffers, so mapped memory cannot be viewed without a copy',
        { cause },
      );
    }
    const mapping: Mapping = Object.freeze({ address, length: rounded, bytes });
    const state: Released = { address, length: rounded, released: false };
    this.#mappings.set(address, { mapping, state });
    this.#placeholders.register(bytes.buffer, state);
    return mapping;
  }

  munmap(mapping: Mapping): void {
    const entry = this.#mappings.get(mapping.address);
    if (entry === undefined || entry.mapping !== mapping) {
      // EINVAL, as @vfio-ts/backend-sim answers: unmapping what is not (or no longer) ours must never touch memory.
      throw new VfioSystemError(errnoNumber('EINVAL', this.arch), {
        syscall: 'munmap',
        hint:
          `0x${mapping.address.toString(16)} (${mapping.length} bytes) is not a live mapping of this backend ` +
          '(already unmapped, or made elsewhere)',
      });
    }
    // The mapping's ArrayBuffer cannot be detached (koffi's external buffers are not detachable), and code may still
    // hold `bytes`. A plain munmap would let such a view crash the process, or worse, alias whatever is mapped at
    // this address next (another DMA buffer). So the range is atomically replaced by fresh private zero pages: the
    // device region or DMA memory is released now, a stale view sees zeros, and the placeholder itself is unmapped
    // when the view is garbage-collected.
    const { address, length } = entry.state;
    const placeholder = this.#libc.mmap(
      address,
      length,
      this.#sc.PROT_READ | this.#sc.PROT_WRITE,
      this.#sc.MAP_PRIVATE | this.#sc.MAP_ANONYMOUS | this.#sc.MAP_FIXED,
      -1,
      0n,
    );
    if (this.#failed(placeholder)) {
      throw new VfioSystemError(lastErrno(), {
        syscall: 'munmap',
        hint: 'replacing the range by a placeholder failed',
      });
    }
    entry.state.released = true;
    this.#mappings.delete(address);
  }

  eventfd(initval = 0, flags?: number): number {
    // Non-blocking by default, so that readEventfd's read after a readiness report can never stall the event loop.
    const fd = this.#libc.eventfd(initval, flags ?? this.#sc.EFD_CLOEXEC | this.#sc.EFD_NONBLOCK);
    if (fd < 0) throw new VfioSystemError(lastErrno(), { syscall: 'eventfd' });
    this.#fds.set(fd, 'eventfd');
    return fd;
  }

  readEventfd(fd: number, options?: { readonly signal?: AbortSignal }): Promise<bigint> {
    const signal = options?.signal;
    return new Promise<bigint>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let watch = this.#watches.get(fd);
      if (watch === undefined) {
        // koffi aborts the whole process when libuv refuses to poll an fd (koffi 3.3.4 throws from a native
        // constructor): only a live eventfd may reach pollReadable, and only once (libuv allows one poll handle per
        // fd, so every reader of an fd shares it). procfs says which kind an fd is.
        const refusal = this.#notAnEventfd(fd);
        if (refusal !== undefined) {
          reject(refusal);
          return;
        }
        const created: Watch = { handle: undefined, readers: [] };
        created.handle = this.#libc.pollReadable(fd, () => this.#onReadable(fd, created));
        this.#watches.set(fd, created);
        watch = created;
      }
      const reader: Reader = {
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      const onAbort = (): void => {
        this.#dropReader(fd, reader);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      watch.readers.push(reader);
    });
  }

  /** The fd is readable: the oldest reader takes the counter; a drained counter (EAGAIN) means wait again. */
  #onReadable(fd: number, watch: Watch): void {
    const reader = watch.readers[0];
    if (reader === undefined) return;
    const buffer = new Uint8Array(8);
    const n = this.#libc.read(fd, buffer);
    if (n === 8) {
      this.#dropReader(fd, reader);
      reader.resolve(new DataView(buffer.buffer).getBigUint64(0, this.littleEndian));
      return;
    }
    // eventfd reads are all or nothing, so a short read cannot happen; EIO stands for "impossible" if it does.
    const errno = n < 0 ? lastErrno() : errnoNumber('EIO', this.arch);
    if (errnoName(errno, this.arch) === 'EAGAIN') return;
    this.#endWatch(fd, new VfioSystemError(errno, { syscall: 'read', fd, ...kind(this.#fds.get(fd)) }));
  }

  #dropReader(fd: number, reader: Reader): void {
    reader.detach();
    const watch = this.#watches.get(fd);
    if (watch === undefined) return;
    const at = watch.readers.indexOf(reader);
    if (at >= 0) watch.readers.splice(at, 1);
    if (watch.readers.length === 0) {
      watch.handle?.close();
      this.#watches.delete(fd);
    }
  }

  /** Stops polling `fd` and fails every pending reader with `error`. */
  #endWatch(fd: number, error: Error): void {
    const watch = this.#watches.get(fd);
    if (watch === undefined) return;
    watch.handle?.close();
    this.#watches.delete(fd);
    for (const reader of watch.readers.splice(0)) {
      reader.detach();
      reader.reject(error);
    }
  }

  #notAnEventfd(fd: number): Error | undefined {
    let fdinfo: string;
    try {
      fdinfo = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      return new VfioSystemError(errnoNumber('EBADF', this.arch), { syscall: 'read', fd });
    }
    if (fdinfo.includes('eventfd-count:')) return undefined;
    return new VfioSystemError(errnoNumber('EINVAL', this.arch), {
      syscall: 'read',
      fd,
      hint: `fd ${fd} is not an eventfd`,
    });
  }

  writeEventfd(fd: number, value: bigint): void {
    const buffer = new Uint8Array(8);
    new DataView(buffer.buffer).setBigUint64(0, BigInt.asUintN(64, value), this.littleEndian);
    const n = this.#libc.write(fd, buffer);
    if (n < 0) throw new VfioSystemError(lastErrno(), { syscall: 'write', fd, ...kind(this.#fds.get(fd)) });
  }

  /**
   * mmap(2)'s failure value MAP_FAILED is `(void *) -1`, which no successful mmap can return: every mapping is
   * page-aligned. Testing alignment needs no constant.
   */
  #failed(address: bigint): boolean {
    return address % BigInt(this.pageSize) !== 0n;
  }

  #rule(name: string): ArgRule {
    let rule = this.#rules.get(name);
    if (rule === undefined) {
      rule = ruleFor(name, this.arch);
      this.#rules.set(name, rule);
    }
    return rule;
  }

  /** Defence in depth under the typed API: nothing the kernel will touch may lie outside the buffer passed. */
  #check(name: string, rule: ArgRule, request: number, arg: IoctlArg): void {
    if (request !== rule.request) {
      throw new VfioTsError(
        'VFIO_TS_IOCTL_MISMATCH',
        `${name} is 0x${rule.request.toString(16)} on ${this.arch}, but request 0x${request.toString(16)} was given`,
      );
    }
    if (rule.kind === 'none' || rule.kind === 'int') return;
    if (arg === undefined) return; // NULL: the kernel answers EFAULT without touching our memory.
    if (!(arg instanceof Uint8Array)) {
      throw new VfioTsError(
        'VFIO_TS_BAD_ARGUMENT',
        `${name} takes a pointer (${rule.kind}); pass a Uint8Array, not an integer the kernel would dereference`,
      );
    }
    if (rule.kind === 'string') {
      if (!arg.includes(0)) {
        throw new VfioTsError('VFIO_TS_BAD_ARGUMENT', `${name} takes a NUL-terminated string; the buffer has no NUL`);
      }
      return;
    }
    if (arg.length < rule.minBytes) {
      throw new VfioTsError(
        'VFIO_TS_SHORT_BUFFER',
        `${name}: the kernel reads and writes at least ${rule.minBytes} bytes on ${this.arch}, the buffer has ` +
          `${arg.length}`,
      );
    }
    if (rule.argszOffset !== undefined) {
      const argsz = new DataView(arg.buffer, arg.byteOffset, arg.byteLength).getUint32(
        rule.argszOffset,
        this.littleEndian,
      );
      if (argsz > arg.length) {
        throw new VfioTsError(
          'VFIO_TS_ARGSZ_EXCEEDS_BUFFER',
          `${name}: argsz claims ${argsz} bytes but the buffer has ${arg.length}; the kernel would read past it`,
        );
      }
    }
  }
}

function ruleFor(name: string, arch: Arch): ArgRule {
  const spec = (ioctls as Readonly<Record<string, IoctlSpec | undefined>>)[name];
  if (spec === undefined) return untracked;
  const request = ioctlNumber(name as IoctlName, arch);
  const arg = spec.arg;
  switch (arg.kind) {
    case 'struct': {
      const argsz = codec(arg.struct, arch).fields.find((f) => f.name === 'argsz');
      return { request, kind: arg.kind, minBytes: arg.minArgsz[arch], argszOffset: argsz?.offset };
    }
    case 'int-pointer':
      return { request, kind: arg.kind, minBytes: intTypeSize(arg.type), argszOffset: undefined };
    default:
      return { request, kind: arg.kind, minBytes: 0, argszOffset: undefined };
  }
}

/** Bytes of a fixed-width uapi integer type (`__s32` → 4), from its name. */
function intTypeSize(type: string): number {
  const bits = /(\d+)$/.exec(type)?.[1];
  if (bits === undefined) throw new VfioTsError('VFIO_TS_BAD_ARGUMENT', `unknown pointee type ${type}`);
  return Number(bits) / 8;
}

function fdKindOfPath(path: string): FdKind {
  if (path === '/dev/vfio/vfio') return 'container';
  if (/^\/dev\/vfio\/(?:noiommu-)?\d+$/.test(path)) return 'group';
  if (path.startsWith('/dev/vfio/devices/')) return 'device';
  return 'other';
}

function kind(fdKind: FdKind | undefined): { fdKind?: FdKind } {
  return fdKind === undefined ? {} : { fdKind };
}
