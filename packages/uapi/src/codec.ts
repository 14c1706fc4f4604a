// SPDX-License-Identifier: MIT

import { UapiError } from './errors.js';
import type { Arch } from './generated/abi.js';
import { abiInfo } from './generated/abi.js';
import { codecFactories, structLayouts } from './generated/codecs.js';
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

/** The hot methods a generated codec supplies; the rest of StructCodec is layout metadata. */
export type CodecMethods<T> = Pick<StructCodec<T>, 'encodedSize' | 'encode' | 'encodeInto' | 'decode' | 'view'>;

/** Completes a generated codec with its layout facts. Called once per struct and ABI, never on a hot path. */
export function structCodec<T>(
  name: string,
  arch: Arch,
  littleEndian: boolean,
  layout: StructLayoutInfo,
  methods: CodecMethods<T>,
): StructCodec<T> {
  const field = (member: string): FieldLayout => {
    const found = layout.fields.find((f) => f.name === member || f.key === member);
    if (found === undefined) throw new UapiError('VFIO_TS_UNKNOWN_STRUCT', `struct ${name} has no member ${member}`);
    return found;
  };
  return {
    name,
    arch,
    littleEndian,
    size: layout.size,
    align: layout.align,
    fields: layout.fields,
    offsetOf: (member) => field(member).offset,
    offsetEnd: (member) => {
      const f = field(member);
      return f.offset + (f.flexible ? 0 : f.size);
    },
    ...methods,
  };
}

const cache = new Map<string, StructCodec<unknown>>();

/** The codec of a struct for an ABI. Codecs are cached: calling this on a hot path is cheap. */
export function codec<N extends StructName>(name: N, arch: Arch): StructCodec<StructTypes[N]> {
  const key = `${arch}:${name}`;
  let found = cache.get(key);
  if (found === undefined) {
    const factories = codecFactories[name] as
      | Readonly<Record<Arch, (arch: Arch, le: boolean, layout: StructLayoutInfo) => StructCodec<unknown>>>
      | undefined;
    if (factories === undefined)
      throw new UapiError('VFIO_TS_UNKNOWN_STRUCT', `no struct ${String(name)} in linux/vfio.h`);
    const make = factories[arch];
    if (make === undefined) throw new UapiError('VFIO_TS_UNKNOWN_ARCH', `unknown ABI ${String(arch)}`);
    found = make(arch, abiInfo[arch].littleEndian, structLayouts[name][arch]);
    cache.set(key, found);
  }
  return found as StructCodec<StructTypes[N]>;
}
