// SPDX-License-Identifier: MIT
/**
 * Range checks the generated codecs call for every field they encode. Kept tiny so V8 inlines them: a codec is on
 * the hot path of every ioctl.
 */
import { UapiError } from './errors.js';

function range(value: unknown, where: string, type: string): UapiError {
  const shown = typeof value === 'bigint' ? `${value}n` : String(value);
  return new UapiError('VFIO_TS_VALUE_RANGE', `${where}: ${shown} does not fit ${type}`);
}

export function u8(v: number, where: string): number {
  if ((v & 0xff) === v) return v;
  throw range(v, where, '__u8');
}
export function u16(v: number, where: string): number {
  if ((v & 0xffff) === v) return v;
  throw range(v, where, '__u16');
}
export function u32(v: number, where: string): number {
  if (v >>> 0 === v) return v;
  throw range(v, where, '__u32');
}
export function s8(v: number, where: string): number {
  if ((v << 24) >> 24 === v) return v;
  throw range(v, where, '__s8');
}
export function s16(v: number, where: string): number {
  if ((v << 16) >> 16 === v) return v;
  throw range(v, where, '__s16');
}
export function s32(v: number, where: string): number {
  if ((v | 0) === v) return v;
  throw range(v, where, '__s32');
}
/** 64-bit fields take a bigint, or a non-negative safe integer for convenience. */
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const S64_MIN = -0x8000_0000_0000_0000n;
const S64_MAX = 0x7fff_ffff_ffff_ffffn;

// Comparisons, not BigInt.asUintN: the latter allocates and costs more than the whole field write.
export function u64(v: bigint | number, where: string): bigint {
  if (typeof v === 'bigint') {
    if (v >= 0n && v <= U64_MAX) return v;
  } else if (Number.isSafeInteger(v) && v >= 0) {
    return BigInt(v);
  }
  throw range(v, where, '__u64');
}
export function s64(v: bigint | number, where: string): bigint {
  if (typeof v === 'bigint') {
    if (v >= S64_MIN && v <= S64_MAX) return v;
  } else if (Number.isSafeInteger(v)) {
    return BigInt(v);
  }
  throw range(v, where, '__s64');
}
/** A pointer member on a 32-bit ABI must fit 32 bits. */
export function u32ptr(v: bigint | number, where: string): number {
  const big = u64(v, where);
  if (big <= 0xffffffffn) return Number(big);
  throw range(v, where, 'a 32-bit pointer');
}

export function shortBuffer(struct: string, need: number, have: number): UapiError {
  return new UapiError('VFIO_TS_SHORT_BUFFER', `struct ${struct} needs ${need} bytes, the buffer has ${have}`);
}

/** Bounds for a flexible array read: `count` elements of `size` bytes at `offset`, inside `end`. */
export function arrayEnd(
  struct: string,
  member: string,
  offset: number,
  count: number,
  size: number,
  end: number,
): void {
  const need = offset + count * size;
  if (need > end) {
    throw new UapiError(
      'VFIO_TS_SHORT_BUFFER',
      `struct ${struct}.${member} claims ${count} entries (${need} bytes), the buffer has ${end}`,
    );
  }
}

export function tooMany(where: string, have: number, max: number): UapiError {
  return new UapiError('VFIO_TS_VALUE_RANGE', `${where}: ${have} elements do not fit an array of ${max}`);
}
