// SPDX-License-Identifier: MIT

import { shortBuffer } from './check.js';
import { UapiError } from './errors.js';
import type { Arch } from './generated/abi.js';
import { abiInfo } from './generated/abi.js';
import { codecImpls, layoutClassOf, structLayouts } from './generated/codecs.js';
import type { StructName, StructTypes } from './generated/types.js';

/** What encode accepts: every field optional (missing means 0), 64-bit fields also as safe integers. */
export type StructInit<T> = {
  [K in keyof T]?: T[K] extends bigint
    ? bigint | number
    : T[K] extends number
      ? number
      : T[K] extends Uint8Array
        ? Uint8Array
        : T[K] extends readonly (infer E)[]
          ? readonly StructInit<E>[] | readonly E[]
          : StructInit<T[K]>;
};

type ViewKeys<T> = {
  [K in keyof T]: T[K] extends bigint | number ? K : T[K] extends Uint8Array | readonly unknown[] ? never : K;
}[keyof T];

/** Zero-copy getters and setters over a buffer (flexible arrays are left to decode). */
export type StructView<T> = {
  -readonly [K in ViewKeys<T>]: T[K] extends bigint | number ? T[K] : StructView<T[K]>;
};

export interface FieldLayout {
  /** The C member name. */
  readonly name: string;
  /** The TypeScript key. */
  readonly key: string;
  readonly offset: number;
  /** Bytes; for a flexible array, one element's size. */
  readonly size: number;
  readonly flexible: boolean;
}

export interface StructLayoutInfo {
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldLayout[];
}

/** The generated functions behind a codec, for one layout class (ABIs whose layouts are identical). */
export interface CodecImpl<T> {
  size(value: StructInit<T>): number;
  enc(dv: DataView, offset: number, le: boolean, value: StructInit<T>): void;
  dec(dv: DataView, offset: number, le: boolean, end: number): T;
  readonly View: new (dv: DataView, offset: number, le: boolean) => StructView<T>;
}

export interface StructCodec<T> {
  /** The C struct name. */
  readonly name: string;
  readonly arch: Arch;
  readonly littleEndian: boolean;
  /** sizeof(struct), from the compiler. */
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldLayout[];
  /** Byte offset of a member, by C name or TypeScript key. */
  offsetOf(member: string): number;
  /** offsetofend(): what the kernel's `minsz` checks use. */
  offsetEnd(member: string): number;
  /** Bytes `encode` would produce for this value (sizeof, or more with a flexible array). */
  encodedSize(value: StructInit<T>): number;
  /** A new zero-filled buffer holding the value. */
  encode(value: StructInit<T>): Uint8Array;
  /** Writes the value at `offset` (zeroing the struct's bytes first); returns the bytes written. */
  encodeInto(value: StructInit<T>, target: Uint8Array, offset?: number): number;
  decode(source: Uint8Array, offset?: number): T;
  view(source: Uint8Array, offset?: number): StructView<T>;
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

class GeneratedCodec<T> implements StructCodec<T> {
  readonly littleEndian: boolean;
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldLayout[];
  private readonly impl: CodecImpl<T>;

  constructor(
    readonly name: string,
    readonly arch: Arch,
    impl: CodecImpl<T>,
    layout: StructLayoutInfo,
  ) {
    this.littleEndian = abiInfo[arch].littleEndian;
    this.size = layout.size;
    this.align = layout.align;
    this.fields = layout.fields;
    this.impl = impl;
  }

  #field(member: string): FieldLayout {
    const field = this.fields.find((f) => f.name === member || f.key === member);
    if (field === undefined)
      throw new UapiError('VFIO_TS_UNKNOWN_STRUCT', `struct ${this.name} has no member ${member}`);
    return field;
  }

  offsetOf(member: string): number {
    return this.#field(member).offset;
  }

  offsetEnd(member: string): number {
    const field = this.#field(member);
    return field.offset + (field.flexible ? 0 : field.size);
  }

  encodedSize(value: StructInit<T>): number {
    return this.impl.size(value);
  }

  encode(value: StructInit<T>): Uint8Array {
    const bytes = new Uint8Array(this.impl.size(value));
    this.impl.enc(dataView(bytes), 0, this.littleEndian, value);
    return bytes;
  }

  encodeInto(value: StructInit<T>, target: Uint8Array, offset = 0): number {
    const size = this.impl.size(value);
    if (offset < 0 || target.length - offset < size) throw shortBuffer(this.name, size, target.length - offset);
    target.fill(0, offset, offset + size);
    this.impl.enc(dataView(target), offset, this.littleEndian, value);
    return size;
  }

  decode(source: Uint8Array, offset = 0): T {
    if (offset < 0 || source.length - offset < this.size)
      throw shortBuffer(this.name, this.size, source.length - offset);
    return this.impl.dec(dataView(source), offset, this.littleEndian, source.length);
  }

  view(source: Uint8Array, offset = 0): StructView<T> {
    if (offset < 0 || source.length - offset < this.size)
      throw shortBuffer(this.name, this.size, source.length - offset);
    return new this.impl.View(dataView(source), offset, this.littleEndian);
  }
}

const cache = new Map<string, StructCodec<unknown>>();

/** The codec of a struct for an ABI. Codecs are cached: calling this on a hot path is cheap. */
export function codec<N extends StructName>(name: N, arch: Arch): StructCodec<StructTypes[N]> {
  const key = `${arch}:${name}`;
  let found = cache.get(key);
  if (found === undefined) {
    const impls = codecImpls[name] as readonly CodecImpl<unknown>[] | undefined;
    if (impls === undefined) throw new UapiError('VFIO_TS_UNKNOWN_STRUCT', `no struct ${String(name)} in linux/vfio.h`);
    const layoutClass = layoutClassOf[arch];
    if (layoutClass === undefined) throw new UapiError('VFIO_TS_UNKNOWN_ARCH', `unknown ABI ${String(arch)}`);
    found = new GeneratedCodec(name, arch, impls[layoutClass]!, structLayouts[name][arch]);
    cache.set(key, found);
  }
  return found as StructCodec<StructTypes[N]>;
}
