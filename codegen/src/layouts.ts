// SPDX-License-Identifier: MIT
/** The shape of spec/generated/layouts.json: what the compiler probe measured, per ABI. */
export type AbiName = 'x86_64' | 'aarch64' | 'ppc64le' | 'ppc64' | 'i386';

export interface StructLayout {
  readonly size: number;
  readonly align: number;
  readonly members: Readonly<Record<string, { readonly offset: number; readonly size: number }>>;
}

export interface AbiLayout {
  readonly littleEndian: boolean;
  readonly pointerSize: number;
  readonly compiler: string;
  readonly structs: Readonly<Record<string, StructLayout>>;
  /** Decimal strings: bigint-safe and sign-correct. */
  readonly constants: Readonly<Record<string, string>>;
  readonly ioctls: Readonly<Record<string, number>>;
  readonly system: Readonly<Record<string, string>>;
}

export type AbiLayouts = Readonly<Record<string, AbiLayout>>;
