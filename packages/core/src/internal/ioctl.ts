// SPDX-License-Identifier: MIT
/**
 * The one straight path from a typed value to `backend.ioctl` and back. Everything the kernel checks is derived
 * here from @vfio-ts/uapi — the request number for the backend's architecture, the struct layout and byte order,
 * and `argsz` (always the size of the buffer actually passed, never a caller's number) — so no other file encodes
 * an ioctl argument by hand.
 */
import {
  codec,
  type IoctlName,
  type IoctlSpec,
  ioctlNumber,
  ioctls,
  type ScalarType,
  type StructInit,
  type StructName,
  type StructTypes,
} from '@vfio-ts/uapi';
import type { Backend } from '../backend.js';
import { type FdKind, VfioSystemError, VfioTsError } from '../errors.js';
import { ioctlHint, openHint } from './hints.js';

type IoctlTable = typeof ioctls;
type ArgOf<N extends IoctlName> = IoctlTable[N]['arg'];

/** The ioctls whose argument is a struct with `argsz`. */
export type StructIoctl = { [N in IoctlName]: ArgOf<N> extends { kind: 'struct' } ? N : never }[IoctlName];
/** The ioctls that take nothing. */
export type NoneIoctl = { [N in IoctlName]: ArgOf<N> extends { kind: 'none' } ? N : never }[IoctlName];
/** The ioctls that take an integer by value. */
export type IntIoctl = { [N in IoctlName]: ArgOf<N> extends { kind: 'int' } ? N : never }[IoctlName];
/** The ioctls that take a pointer to one integer. */
export type IntPointerIoctl = { [N in IoctlName]: ArgOf<N> extends { kind: 'int-pointer' } ? N : never }[IoctlName];
/** The ioctls that take a NUL-terminated string. */
export type StringIoctl = { [N in IoctlName]: ArgOf<N> extends { kind: 'string' } ? N : never }[IoctlName];

export type IoctlStruct<N extends StructIoctl> = ArgOf<N> extends { struct: infer S extends StructName } ? S : never;
export type IoctlStructType<N extends StructIoctl> = StructTypes[IoctlStruct<N>];
/** What a caller passes: any field but `argsz`, which is derived. */
export type IoctlInput<N extends StructIoctl> = Omit<StructInit<IoctlStructType<N>>, 'argsz'>;

export interface StructCallOptions {
  /**
   * Bytes to pass in all, when more than the struct itself: room for a capability chain the kernel writes after
   * the struct. `argsz` becomes this size.
   */
  readonly bufferSize?: number;
  /** Bytes placed right after the struct (a flexible array's payload, e.g. SET_IRQS eventfds). */
  readonly trailing?: Uint8Array;
}

export interface StructCallResult<T> {
  /** The ioctl's non-negative return value. */
  readonly result: number;
  /** The struct as the kernel left it. */
  readonly value: T;
  /** The whole buffer as the kernel left it (capability chains live past the struct). */
  readonly bytes: Uint8Array;
}

function spec(name: IoctlName): IoctlSpec {
  return (ioctls as Readonly<Record<string, IoctlSpec>>)[name]!;
}

function checkKind(name: IoctlName, fdKind: FdKind, argKind: IoctlSpec['arg']['kind']): IoctlSpec {
  const s = spec(name);
  if (s.fdKind !== fdKind) {
    throw new VfioTsError('VFIO_TS_WRONG_FD_KIND', `${name} is a ${s.fdKind} ioctl, not a ${fdKind} one`);
  }
  if (s.arg.kind !== argKind) {
    throw new VfioTsError('VFIO_TS_WRONG_ARG_KIND', `${name} takes a ${s.arg.kind} argument, not a ${argKind} one`);
  }
  return s;
}

/**
 * Re-raises a backend's failure as the typed API's error: the ioctl named, the fd kind, the hint for the cause.
 * The backend's own extras (a path only some backends know) are dropped so that every backend fails alike.
 */
function ioctlFailure(error: unknown, name: IoctlName, fd: number, fdKind: FdKind): unknown {
  if (!(error instanceof VfioSystemError)) return error;
  const hint = ioctlHint(name, error.code) ?? error.hint;
  return new VfioSystemError(error.errno, {
    syscall: 'ioctl',
    ioctl: name,
    fdKind,
    fd,
    ...(hint !== undefined ? { hint } : {}),
  });
}

function invoke(
  backend: Backend,
  fd: number,
  fdKind: FdKind,
  name: IoctlName,
  arg: Uint8Array | number | bigint | undefined,
): number {
  const request = ioctlNumber(name, backend.arch);
  try {
    return backend.ioctl(fd, request, arg, { name });
  } catch (error) {
    throw ioctlFailure(error, name, fd, fdKind);
  }
}

/** Encodes `value` as the ioctl's struct, derives `argsz`, calls, and decodes what the kernel wrote back. */
export function callStruct<N extends StructIoctl>(
  backend: Backend,
  fd: number,
  fdKind: FdKind,
  name: N,
  value: IoctlInput<N>,
  options: StructCallOptions = {},
): StructCallResult<IoctlStructType<N>> {
  const s = checkKind(name, fdKind, 'struct');
  const arg = s.arg as Extract<IoctlSpec['arg'], { kind: 'struct' }>;
  const c = codec(arg.struct, backend.arch);
  const structBytes = c.encodedSize(value as never);
  const trailing = options.trailing ?? new Uint8Array(0);
  const size = Math.max(structBytes + trailing.length, options.bufferSize ?? 0, arg.minArgsz[backend.arch]);
  const bytes = new Uint8Array(size);
  c.encodeInto({ ...value, argsz: size } as never, bytes, 0);
  bytes.set(trailing, structBytes);
  const result = invoke(backend, fd, fdKind, name, bytes);
  return { result, value: c.decode(bytes) as IoctlStructType<N>, bytes };
}

/** An ioctl with no argument. */
export function callNone(backend: Backend, fd: number, fdKind: FdKind, name: NoneIoctl): number {
  checkKind(name, fdKind, 'none');
  return invoke(backend, fd, fdKind, name, undefined);
}

/** An ioctl with an integer passed by value. */
export function callInt(backend: Backend, fd: number, fdKind: FdKind, name: IntIoctl, value: number): number {
  checkKind(name, fdKind, 'int');
  return invoke(backend, fd, fdKind, name, value);
}

const scalarShape = /^__([us])(8|16|32|64)$/;

/** An integer in the backend's byte order, sized by its C type: what an `int *` argument points at. */
export function encodeScalar(type: ScalarType, value: number | bigint, littleEndian: boolean): Uint8Array {
  const bits = Number(scalarShape.exec(type)![2]);
  const bytes = new Uint8Array(bits / 8);
  const dv = new DataView(bytes.buffer);
  const n = BigInt(value);
  if (bytes.length === 8) dv.setBigUint64(0, BigInt.asUintN(64, n), littleEndian);
  else if (bytes.length === 4) dv.setUint32(0, Number(BigInt.asUintN(32, n)), littleEndian);
  else if (bytes.length === 2) dv.setUint16(0, Number(BigInt.asUintN(16, n)), littleEndian);
  else dv.setUint8(0, Number(BigInt.asUintN(8, n)));
  return bytes;
}

/** An ioctl with a pointer to one integer (GROUP_SET_CONTAINER's container fd). */
export function callIntPointer(
  backend: Backend,
  fd: number,
  fdKind: FdKind,
  name: IntPointerIoctl,
  value: number,
): number {
  const s = checkKind(name, fdKind, 'int-pointer');
  const arg = s.arg as Extract<IoctlSpec['arg'], { kind: 'int-pointer' }>;
  return invoke(backend, fd, fdKind, name, encodeScalar(arg.type, value, backend.littleEndian));
}

/** An ioctl with a NUL-terminated string (GROUP_GET_DEVICE_FD's device name). */
export function callString(backend: Backend, fd: number, fdKind: FdKind, name: StringIoctl, value: string): number {
  checkKind(name, fdKind, 'string');
  const encoded = new TextEncoder().encode(value);
  if (encoded.includes(0)) throw new VfioTsError('VFIO_TS_INVALID_ARGUMENT', `${name}: the string contains a NUL`);
  const bytes = new Uint8Array(encoded.length + 1);
  bytes.set(encoded);
  return invoke(backend, fd, fdKind, name, bytes);
}

/** open(2) of a /dev/vfio node, failing with the hint for the usual cause. */
export function openNode(backend: Backend, path: string): number {
  try {
    return backend.open(path);
  } catch (error) {
    if (!(error instanceof VfioSystemError)) throw error;
    const hint = openHint(path, error.code) ?? error.hint;
    throw new VfioSystemError(error.errno, { syscall: 'open', path, ...(hint !== undefined ? { hint } : {}) });
  }
}
