// SPDX-License-Identifier: MIT
import { errnoName, errnoNumber } from '@vfio-ts/uapi';

/** The fd kinds VFIO ioctls are issued on (the same number means different things on each). */
export type FdKind = 'container' | 'group' | 'device' | 'eventfd' | 'other';

export interface SystemErrorDetails {
  /** `'ioctl'`, `'open'`, `'mmap'`, … */
  readonly syscall: string;
  /** The ioctl's name, for `syscall: 'ioctl'`. */
  readonly ioctl?: string;
  readonly fdKind?: FdKind;
  readonly path?: string;
  readonly fd?: number;
  /** A sentence on the likely cause and what to do, where one is known. */
  readonly hint?: string;
}

/**
 * A failed system call, shaped like Node's `SystemError`: `code` is the errno name, `errno` its negative number
 * (as libuv reports it), `syscall` the call. For ioctls the message and `ioctl` name the request, because VFIO's
 * numbers alias across fd kinds and IOMMU backends and a bare number says little.
 */
export class VfioSystemError extends Error {
  override readonly name = 'VfioSystemError';
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly ioctl: string | undefined;
  readonly fdKind: FdKind | undefined;
  readonly path: string | undefined;
  readonly fd: number | undefined;
  readonly hint: string | undefined;

  constructor(errno: number, details: SystemErrorDetails) {
    const positive = Math.abs(errno);
    const code = errnoName(positive) ?? `E${positive}`;
    const what = details.ioctl ?? details.syscall;
    const where = details.path !== undefined ? ` '${details.path}'` : '';
    const hint = details.hint !== undefined ? ` (${details.hint})` : '';
    super(`${code}: ${what}${where} failed: ${describeErrno(code)}${hint}`);
    this.code = code;
    this.errno = -positive;
    this.syscall = details.syscall;
    this.ioctl = details.ioctl;
    this.fdKind = details.fdKind;
    this.path = details.path;
    this.fd = details.fd;
    this.hint = details.hint;
  }

  /** Builds the error for an errno given by name: `VfioSystemError.of('EINVAL', {syscall: 'ioctl', ...})`. */
  static of(code: string, details: SystemErrorDetails): VfioSystemError {
    return new VfioSystemError(errnoNumber(code), details);
  }
}

/**
 * A failure that is not a system call's errno (a bad argument caught before any call, a misuse of the API).
 * `code` is a stable `VFIO_TS_*` string, as vitest does.
 */
export class VfioTsError extends Error {
  override readonly name = 'VfioTsError';
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isSystemError(error: unknown, code?: string): error is VfioSystemError {
  return error instanceof VfioSystemError && (code === undefined || error.code === code);
}

const descriptions: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENXIO: 'no such device or address',
  EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EFAULT: 'bad address',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  ENODEV: 'no such device',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  ENOTTY: 'inappropriate ioctl for device',
  ERANGE: 'result out of range',
  ENOSYS: 'function not implemented',
  EOPNOTSUPP: 'operation not supported',
  EIO: 'input/output error',
  E2BIG: 'argument list too long',
  EMFILE: 'too many open files',
  EOVERFLOW: 'value too large for defined data type',
};

function describeErrno(code: string): string {
  return descriptions[code] ?? 'system call failed';
}
