// SPDX-License-Identifier: MIT
/** ≙ the `__user` argument of an ioctl: copy_from_user / copy_to_user against what the caller really passed. */

import type { Arch, StructName } from '@vfio-ts/uapi';
import { codec, errnoNumber } from '@vfio-ts/uapi';
import type { Process } from '../mm/process.js';

const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');

export class UserArg {
  /** False for by-value integer args (which the kernel may still treat as an address into the process). */
  readonly isPointer: boolean;
  /** The by-value argument (or 0n). */
  readonly value: bigint;
  /** Bytes behind the pointer (what the caller really passed); 0 for by-value args. */
  readonly length: number;
  private readonly buffer: Uint8Array | undefined;

  constructor(
    private readonly process: Process,
    arg: Uint8Array | number | bigint | undefined,
  ) {
    if (arg instanceof Uint8Array) {
      this.isPointer = true;
      this.value = 0n;
      this.length = arg.length;
      this.buffer = arg;
    } else {
      this.isPointer = false;
      this.value = arg === undefined ? 0n : BigInt.asUintN(64, BigInt(arg));
      this.length = 0;
      this.buffer = undefined;
    }
  }

  /** The by-value argument as the kernel's `unsigned long` truncated to an int (≙ `(int)arg`). */
  get intValue(): number {
    return Number(BigInt.asIntN(32, this.value));
  }

  /** ≙ copy_from_user: -EFAULT when the caller's memory is shorter than `size` bytes from `offset`. */
  copyFromUser(size: number, offset = 0): Uint8Array | number {
    if (this.buffer === undefined) return this.process.readUser(this.value + BigInt(offset), size);
    if (offset < 0 || offset + size > this.buffer.length) return -EFAULT;
    return this.buffer.slice(offset, offset + size);
  }

  /** ≙ copy_to_user */
  copyToUser(bytes: Uint8Array, offset = 0): number {
    if (this.buffer === undefined) return this.process.writeUser(this.value + BigInt(offset), bytes);
    if (offset < 0 || offset + bytes.length > this.buffer.length) return -EFAULT;
    this.buffer.set(bytes, offset);
    return 0;
  }

  /** ≙ strndup_user: -EFAULT if unreadable before a NUL, -EINVAL if no NUL within `max` bytes. */
  strndupUser(max: number): string | number {
    const chars: number[] = [];
    for (let i = 0; i < max; i++) {
      const b = this.copyFromUser(1, i);
      if (typeof b === 'number') return b;
      if (b[0] === 0) return String.fromCharCode(...chars);
      chars.push(b[0]!);
    }
    return -EINVAL;
  }

  /**
   * The kernel's `copy_from_user(&s, arg, minsz)` into a zero-filled struct: decodes `minsz` bytes of `structName`
   * with the remaining fields 0. Returns the decoded struct or -EFAULT.
   */
  copyStructFromUser<T = Record<string, unknown>>(structName: string, minsz: number, arch: Arch): T | number {
    const c = codec(structName as StructName, arch);
    const got = this.copyFromUser(minsz);
    if (typeof got === 'number') return got;
    const full = new Uint8Array(Math.max(c.size, minsz));
    full.set(got);
    if (!c.fields.some((f) => f.flexible)) return c.decode(full) as T;
    // The kernel copies the fixed part only; a flexible array's count is user data, not a length to trust here.
    const view = c.view(full) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const f of c.fields) if (!f.flexible) out[f.key] = view[f.key];
    return out as T;
  }
}
