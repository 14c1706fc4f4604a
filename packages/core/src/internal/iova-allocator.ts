// SPDX-License-Identifier: MIT
/** First-fit IOVA space over a set of usable ranges: one job, handing out aligned, non-overlapping ranges. */
import { VfioTsError } from '../errors.js';

export interface IovaRange {
  readonly start: bigint;
  /** Inclusive, as the kernel reports IOVA ranges. */
  readonly end: bigint;
}

export class IovaAllocator {
  /** Allocated [start, end) pairs, sorted by start. */
  readonly #used: { start: bigint; end: bigint }[] = [];

  constructor(readonly ranges: readonly IovaRange[]) {}

  /** The lowest free, `align`-aligned range of `size` bytes, now reserved. */
  allocate(size: bigint, align: bigint): bigint {
    for (const range of this.ranges) {
      let candidate = alignUp(range.start === 0n ? align : range.start, align);
      for (const used of this.#used) {
        if (used.end <= candidate) continue;
        if (used.start >= candidate + size) break;
        candidate = alignUp(used.end, align);
      }
      if (candidate + size - 1n <= range.end) {
        this.#insert(candidate, candidate + size);
        return candidate;
      }
    }
    throw new VfioTsError('VFIO_TS_IOVA_EXHAUSTED', `no free ${size}-byte IOVA range aligned to ${align}`);
  }

  /** Reserves a caller-chosen range; false if it overlaps a reservation or leaves the usable ranges. */
  reserve(start: bigint, size: bigint): boolean {
    const end = start + size;
    if (!this.ranges.some((r) => start >= r.start && end - 1n <= r.end)) return false;
    if (this.#used.some((u) => u.start < end && start < u.end)) return false;
    this.#insert(start, end);
    return true;
  }

  release(start: bigint): void {
    const i = this.#used.findIndex((u) => u.start === start);
    if (i >= 0) this.#used.splice(i, 1);
  }

  #insert(start: bigint, end: bigint): void {
    const i = this.#used.findIndex((u) => u.start > start);
    this.#used.splice(i < 0 ? this.#used.length : i, 0, { start, end });
  }
}

export function alignUp(value: bigint, align: bigint): bigint {
  return ((value + align - 1n) / align) * align;
}

/** The lowest set bit of a page-size bitmap: the smallest page the IOMMU can map. */
export function lowestPage(bitmap: bigint): bigint {
  return bitmap & -bitmap;
}
