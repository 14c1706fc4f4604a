// SPDX-License-Identifier: MIT
/** The shapes of the generated tables: what the spec says of each ioctl, at run time. */
import type { Arch } from './generated/abi.js';
import type { StructName } from './generated/types.js';

export type ScalarType = '__u8' | '__u16' | '__u32' | '__u64' | '__s8' | '__s16' | '__s32' | '__s64';

export type IoctlArgSpec =
  | { readonly kind: 'none' }
  /** An integer passed by value in the ioctl's third argument. */
  | { readonly kind: 'int'; readonly type: ScalarType; readonly doc: string }
  /** A pointer to one integer (VFIO_GROUP_SET_CONTAINER takes `int *`). */
  | { readonly kind: 'int-pointer'; readonly type: ScalarType; readonly doc: string }
  /** A NUL-terminated string (VFIO_GROUP_GET_DEVICE_FD). */
  | { readonly kind: 'string'; readonly doc: string }
  | {
      readonly kind: 'struct';
      readonly struct: StructName;
      /** The member the kernel's `minsz = offsetofend(...)` names. */
      readonly minArgszThrough: string;
      /** That minsz, per ABI. */
      readonly minArgsz: Readonly<Record<Arch, number>>;
    };

export interface IoctlSpec {
  readonly name: string;
  /** The uapi header that defines it: `linux/vfio.h` or `linux/iommufd.h`. */
  readonly header: string;
  /** The fd kind it is issued on: the same number means different things on each. */
  readonly fdKind: string;
  /**
   * The IOMMU backends that implement it ('any' for the VFIO core, 'none' for group and device ioctls, 'iommufd'
   * for the ioctls of /dev/iommu).
   */
  readonly iommu: readonly string[];
  readonly arg: IoctlArgSpec;
  readonly returns?: string;
  /**
   * A kernel version that has it, when later than the oldest vendored header: the one that introduced it, or at the
   * latest the first vendored header that has it (spec/vfio.yaml `availability.since`).
   */
  readonly since?: string;
  /** The architectures where it can work (sPAPR: powerpc only); the number exists everywhere. */
  readonly archs?: readonly Arch[];
  readonly doc: string;
  /** The request number, per ABI, from the compiler. */
  readonly request: Readonly<Record<Arch, number>>;
}
