// SPDX-License-Identifier: MIT
/**
 * Physical memory of the simulated machine: pages with stable host physical addresses (`hpa`).
 * A page lives while a VMA maps it or someone pins it (≙ struct page refcount); invariant checks use `freed`.
 */

export interface SimPage {
  readonly hpa: bigint;
  /** The page's bytes (PAGE_SIZE long). A live view while the page is mapped; kept alive while pinned. */
  readonly bytes: Uint8Array;
  /** PAGE_SIZE of the simulated kernel. */
  readonly size: number;
  /** Size of the compound (huge) page this page belongs to; equals `size` for normal pages. */
  readonly compoundSize: number;
  pinCount: number;
  /** True once no VMA maps the page and nobody pins it: any IOMMU entry still pointing here is a use-after-free. */
  readonly freed: boolean;
}

export class PhysPage implements SimPage {
  bytes: Uint8Array;
  pinCount = 0;
  mapped = true;
  freed = false;
  constructor(
    readonly memory: PhysicalMemory,
    readonly hpa: bigint,
    bytes: Uint8Array,
    readonly size: number,
    readonly compoundSize: number,
  ) {
    this.bytes = bytes;
  }
}

/** The machine's RAM allocator. Addresses only grow so a freed page's hpa is never reused (stale uses stay visible). */
export class PhysicalMemory {
  private nextHpa = 1n << 32n;
  /** Pages currently alive (mapped or pinned). */
  livePages = 0;

  /**
   * Allocates `count` contiguous pages of `pageSize` backed by `backing` (which must be count*pageSize long),
   * grouped in compound pages of `compoundSize` with hpa aligned to it.
   */
  allocPages(backing: Uint8Array, pageSize: number, compoundSize: number): PhysPage[] {
    const align = BigInt(compoundSize);
    this.nextHpa = (this.nextHpa + align - 1n) & ~(align - 1n);
    const pages: PhysPage[] = [];
    for (let off = 0; off < backing.length; off += pageSize) {
      pages.push(new PhysPage(this, this.nextHpa, backing.subarray(off, off + pageSize), pageSize, compoundSize));
      this.nextHpa += BigInt(pageSize);
    }
    this.livePages += pages.length;
    return pages;
  }

  /** Drops the VMA's reference; a pinned page keeps its contents in a private copy until unpinned. */
  unmapPage(page: PhysPage): void {
    page.mapped = false;
    if (page.pinCount > 0) {
      page.bytes = page.bytes.slice();
      return;
    }
    this.release(page);
  }

  unpin(page: PhysPage): void {
    page.pinCount--;
    if (page.pinCount === 0 && !page.mapped) this.release(page);
  }

  private release(page: PhysPage): void {
    if (page.freed) return;
    page.freed = true;
    this.livePages--;
  }
}
