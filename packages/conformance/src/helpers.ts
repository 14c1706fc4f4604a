// SPDX-License-Identifier: MIT
/**
 * Helpers that keep scenarios short and still plain data: `expectOk(step)` / `expectErrno('EINVAL', step)` (the
 * iommufd selftest's test_cmd_* / test_err_* pair), step builders, and the usual set-up sequences.
 */

import type { IoctlName } from '@vfio-ts/uapi';
import * as uapi from '@vfio-ts/uapi';
import type { BufRef, Env, Expect, FdRef, FieldValue, IoctlArg, Mode, Step, V } from './types.js';

type WithExpect = Extract<Step, { expect: Expect }> | Extract<Step, { op: 'close' }>;
type Body<S> = S extends unknown ? Omit<S, 'expect'> : never;
export type StepBody = Body<WithExpect>;

/** The step must succeed (return 0 unless `ret` says otherwise; `out` = written-back fields). */
export function expectOk<S extends StepBody>(step: S, expect: Omit<Expect, 'errno'> = {}): S & { expect: Expect } {
  return { ...step, expect };
}

/** The step must fail with this errno. */
export function expectErrno<S extends StepBody>(errno: string, step: S): S & { expect: Expect } {
  return { ...step, expect: { errno } };
}

export const ioctl = (fd: string | V<number>, name: IoctlName, arg?: IoctlArg) =>
  ({ op: 'ioctl', fd, ioctl: name, ...(arg !== undefined ? { arg } : {}) }) as const;
export const int = (value: V<number>): IoctlArg => ({ int: value });
export const struct = (value: Readonly<Record<string, V<FieldValue>>>, size?: V<number>): IoctlArg =>
  size === undefined ? { value } : { value, size };
export const buf = (name: string, offset: V<number | bigint> = 0): BufRef => ({ buf: name, offset });
export const fdOf = (name: string): FdRef => ({ fd: name });

export const openContainer = (as = 'C') => ({ op: 'open', as, path: 'container' }) as const;
export const openGroup = (as = 'G', group = 0) => ({ op: 'open', as, path: { group } }) as const;
export const close = (fd: string) => ({ op: 'close', fd }) as const;
export const mmap = (as: string, bytes: V<number>, prot: 'r' | 'rw' = 'rw'): Step => ({ op: 'mmap', as, bytes, prot });
export const locked = (delta: V<number | bigint>): Step => ({ op: 'locked', delta });

/** The mode's own `VFIO_SET_IOMMU` argument. */
export const modeType = (env: Env): number => env.iommuType;
export const page = (env: Env): number => env.pageSize;
export const pages =
  (n: number) =>
  (env: Env): number =>
    n * env.pageSize;
export const isV2 = (mode: Mode): boolean => mode === 'type1v2' || mode === 'spapr-v2';

/** open C, open G, G SET_CONTAINER C: a group in a container with no IOMMU yet. */
export function attached(c = 'C', g = 'G', group = 0): Step[] {
  return [
    expectOk(openContainer(c), { ret: 'fd' }),
    expectOk(openGroup(g, group), { ret: 'fd' }),
    expectOk(ioctl(g, 'VFIO_GROUP_SET_CONTAINER', { intPtr: fdOf(c) })),
  ];
}

/** `attached()` then `VFIO_SET_IOMMU` with the mode's type. */
export function withIommu(c = 'C', g = 'G', group = 0): Step[] {
  return [...attached(c, g, group), expectOk(ioctl(c, 'VFIO_SET_IOMMU', int(modeType)))];
}

/** A device fd `D` of the first group's device `index` (after `withIommu`). */
export function device(as = 'D', g = 'G', index = 0): Step {
  return { ...ioctl(g, 'VFIO_GROUP_GET_DEVICE_FD', { string: { device: index } }), as, expect: { ret: 'fd' } };
}

// ---- type1 ----

export const RW = uapi.VFIO_DMA_MAP_FLAG_READ | uapi.VFIO_DMA_MAP_FLAG_WRITE;

export function map(
  c: string,
  iova: V<bigint>,
  size: V<bigint | number>,
  vaddr: V<FieldValue> = buf('B'),
  flags: V<number> = RW,
  extra: Record<string, V<FieldValue>> = {},
) {
  return ioctl(c, 'VFIO_IOMMU_MAP_DMA', struct({ flags, vaddr, iova, size, ...extra }));
}

export function unmap(c: string, iova: V<bigint>, size: V<bigint | number>, flags: V<number> = 0, extra = {}) {
  return ioctl(c, 'VFIO_IOMMU_UNMAP_DMA', struct({ flags, iova, size, ...extra }));
}

// ---- sPAPR ----

export function register(c: string, vaddr: V<FieldValue>, size: V<bigint | number>, extra = {}) {
  return ioctl(c, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', struct({ vaddr, size, ...extra }));
}
export function unregister(c: string, vaddr: V<FieldValue>, size: V<bigint | number>, extra = {}) {
  return ioctl(c, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', struct({ vaddr, size, ...extra }));
}
export function create(c: string, pageShift: V<number>, windowSize: V<bigint>, levels: V<number> = 1, extra = {}) {
  return ioctl(c, 'VFIO_IOMMU_SPAPR_TCE_CREATE', struct({ pageShift, windowSize, levels, ...extra }));
}
export function remove(c: string, startAddr: V<bigint>, extra = {}) {
  return ioctl(c, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', struct({ startAddr, ...extra }));
}

/**
 * Bytes `locked_vm` is charged for a TCE table (`get_table_size() >> PAGE_SHIFT` pages): pseries
 * `window_size >> (page_shift - 3)` (spapr_tce_get_table_size); powernv IODA2 twice the multi-level table
 * (pnv_pci_ioda2_get_table_size, spapr-semantics.md §3.1). The platform is the system's fact `powernv` (0 or 1).
 */
export function tableCharge(pageShift: number, windowSize: V<bigint>, levels = 1) {
  return (env: Env): bigint => {
    const size = typeof windowSize === 'function' ? windowSize(env) : windowSize;
    const ps = BigInt(Math.log2(env.pageSize));
    let bytes: bigint;
    if (env.facts.powernv === 1) {
      const es = BigInt(Math.log2(Number(size))) - BigInt(pageShift);
      let t = 1n << (es + 3n) > 4096n ? 1n << (es + 3n) : 4096n;
      const ceil = (es + BigInt(levels) - 1n) / BigInt(levels);
      const d = 1n << (ceil + 3n > ps ? ceil + 3n : ps);
      bytes = 0n;
      for (let i = 0; i < levels; i++) {
        bytes += ((t + d - 1n) / d) * d;
        t = (t / d) * 8n > d ? (t / d) * 8n : d;
      }
      bytes *= 2n;
    } else {
      bytes = size >> BigInt(pageShift - 3);
    }
    return (bytes >> ps) << ps;
  };
}

/** The platform's 32-bit DMA window size (`facts.tce32Size`). */
export const tce32 = (env: Env): bigint => BigInt(env.facts.tce32Size ?? 0);
/** Charge of the lazily created default window (4K pages, tce32 size, 1 level). */
export const defaultWindowCharge = tableCharge(12, tce32);
/** v1 ENABLE charge: the whole 32-bit window, `tce32_size >> PAGE_SHIFT` pages. */
export const enableCharge = (env: Env): bigint => tce32(env);

/** open, attach, SET_IOMMU(spapr-v2), mmap B (`bytes`), REGISTER B: spapr-semantics.md §13's "S". */
export function spaprV2Setup(bytes: V<number> = pages(16)): Step[] {
  return [...withIommu(), mmap('B', bytes), expectOk(register('C', buf('B'), bytes))];
}

/** open, attach, SET_IOMMU(spapr-v1), ENABLE, mmap B. */
export function spaprV1Setup(bytes: V<number> = pages(16)): Step[] {
  return [...withIommu(), expectOk(ioctl('C', 'VFIO_IOMMU_ENABLE')), mmap('B', bytes)];
}
