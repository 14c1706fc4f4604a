// SPDX-License-Identifier: MIT
/**
 * ≙ struct iommu_table (arch/powerpc/include/asm/iommu.h) with the IODA2 multi-level TCE walk of
 * arch/powerpc/platforms/powernv/pci-ioda-tce.c: a window's TCEs live in a tree of levels whose lower levels are
 * allocated on first use, so a huge window costs memory in proportion to what is mapped, not to its size.
 */
import type { SimPage } from '../mm/memory.js';

/** asm/tce.h: what a TCE lets the device do. Kernel-internal bits, not part of the VFIO uapi. */
export const TCE_PCI_READ = 1;
export const TCE_PCI_WRITE = 2;

/** linux/dma-direction.h */
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
export type DmaDirection = 0 | 1 | 2 | 3;

/**
 * One TCE: the host physical address it points at, its permission bits, and where the simulator finds the bytes.
 * `pages[index]` is the system page holding `hpa`; an IOMMU page larger than PAGE_SIZE spans the following pages of
 * the same (compound) array.
 */
export interface Tce {
  readonly hpa: bigint;
  readonly perm: number;
  readonly pages: readonly SimPage[];
  readonly index: number;
  /** Offset of `hpa` inside `pages[index]`. */
  readonly offset: number;
}

/** @see arch/powerpc/kernel/iommu.c iommu_direction_to_tce_perm */
export function iommuDirectionToTcePerm(direction: DmaDirection): number {
  switch (direction) {
    case DMA_BIDIRECTIONAL:
      return TCE_PCI_READ | TCE_PCI_WRITE;
    case DMA_TO_DEVICE:
      return TCE_PCI_READ;
    case DMA_FROM_DEVICE:
      return TCE_PCI_WRITE;
    default:
      return 0;
  }
}

/** @see arch/powerpc/include/asm/iommu.h iommu_tce_direction */
export function iommuTceDirection(perm: number): DmaDirection {
  if ((perm & (TCE_PCI_READ | TCE_PCI_WRITE)) === (TCE_PCI_READ | TCE_PCI_WRITE)) return DMA_BIDIRECTIONAL;
  if (perm & TCE_PCI_READ) return DMA_TO_DEVICE;
  if (perm & TCE_PCI_WRITE) return DMA_FROM_DEVICE;
  return DMA_NONE;
}

/** A lowest level: hardware TCEs and, for VFIO-created tables, the userspace view (it_userspace) side by side. */
interface Leaf {
  readonly tces: (Tce | undefined)[];
  readonly uas: (bigint | undefined)[] | undefined;
}
type Level = (Level | Leaf | undefined)[];

/** Allocator for one TCE level of 2^shift bytes; null ≙ alloc_pages_node() failing. */
export type LevelAllocator = (shift: number) => boolean;

export class IommuTable {
  /** First entry of the window, in IOMMU pages (bus address >> it_page_shift). */
  readonly itOffset: number;
  /** Entries in the window. */
  readonly itSize: number;
  readonly itPageShift: number;
  readonly itIndirectLevels: number;
  /** Entries per level (a power of two). */
  readonly itLevelSize: number;
  /** Bytes charged to locked_vm for this table (freed by tce_iommu_free_table). */
  itAllocatedSize = 0n;
  /** Set for tables VFIO created: the it_userspace array mirrors each TCE's user address. */
  readonly hasUserspaceView: boolean;
  /** Levels currently allocated below the top, for memory accounting tests. */
  allocatedLevels = 0;
  private readonly root: Level | Leaf;
  private readonly shift: number;
  private readonly allocLevel: LevelAllocator;
  private readonly levelShiftBytes: number;

  constructor(options: {
    itOffset: number;
    itSize: number;
    itPageShift: number;
    levels: number;
    itLevelSize: number;
    userspaceView: boolean;
    allocLevel?: LevelAllocator;
  }) {
    this.itOffset = options.itOffset;
    this.itSize = options.itSize;
    this.itPageShift = options.itPageShift;
    this.itIndirectLevels = options.levels - 1;
    this.itLevelSize = options.itLevelSize;
    this.hasUserspaceView = options.userspaceView;
    this.shift = Math.log2(options.itLevelSize);
    this.levelShiftBytes = this.shift + 3;
    this.allocLevel = options.allocLevel ?? (() => true);
    this.root = this.itIndirectLevels === 0 ? this.newLeaf() : this.newLevel();
  }

  /** Bus address of the window's first byte. */
  get startAddr(): bigint {
    return BigInt(this.itOffset) << BigInt(this.itPageShift);
  }

  /** Window size in bytes. */
  get windowSize(): bigint {
    return BigInt(this.itSize) << BigInt(this.itPageShift);
  }

  /** True if `entry` (absolute, as tce_iommu_find_table computes it) falls in this window. */
  contains(entry: number): boolean {
    return this.itOffset <= entry && entry < this.itOffset + this.itSize;
  }

  /**
   * ≙ pnv_tce(): walks to the leaf holding window-relative index `idx`, allocating missing levels when `alloc`.
   * Returns undefined when a level is missing (and not allocated), or -1 when an allocation failed.
   */
  private leafFor(idx: number, alloc: boolean): Leaf | undefined | -1 {
    let node: Level | Leaf = this.root;
    for (let level = this.itIndirectLevels; level > 0; level--) {
      const levelNode = node as Level;
      const n = Math.floor(idx / 2 ** (level * this.shift)) % this.itLevelSize;
      let next = levelNode[n];
      if (next === undefined) {
        if (!alloc) return undefined;
        if (!this.allocLevel(this.levelShiftBytes)) return -1;
        next = level === 1 ? this.newLeaf() : this.newLevel();
        levelNode[n] = next;
        this.allocatedLevels++;
      }
      node = next;
    }
    return node as Leaf;
  }

  private slot(idx: number): number {
    return idx % this.itLevelSize;
  }

  /** ≙ it_ops->get: the TCE at absolute entry, or undefined. */
  get(entry: number): Tce | undefined {
    const leaf = this.leafFor(entry - this.itOffset, false);
    if (leaf === undefined || leaf === -1) return undefined;
    return leaf.tces[this.slot(entry - this.itOffset)];
  }

  /**
   * ≙ it_ops->xchg_no_kill: stores `tce` (or clears with undefined) at absolute `entry` and returns the old one.
   * -1 when a level could not be allocated (the caller turns it into -ENOMEM).
   */
  xchg(entry: number, tce: Tce | undefined): Tce | undefined | -1 {
    const idx = entry - this.itOffset;
    const leaf = this.leafFor(idx, tce !== undefined);
    if (leaf === -1) return -1;
    if (leaf === undefined) return undefined;
    const s = this.slot(idx);
    const old = leaf.tces[s];
    leaf.tces[s] = tce;
    return old;
  }

  /** ≙ *IOMMU_TABLE_USERSPACE_ENTRY_RO(): the user address cached for absolute `entry`, undefined if none. */
  userspaceGet(entry: number): bigint | undefined {
    if (!this.hasUserspaceView || !this.contains(entry)) return undefined;
    const leaf = this.leafFor(entry - this.itOffset, false);
    if (leaf === undefined || leaf === -1) return undefined;
    return (leaf.uas as (bigint | undefined)[])[this.slot(entry - this.itOffset)];
  }

  /**
   * ≙ *IOMMU_TABLE_USERSPACE_ENTRY(tbl, entry, alloc) = ua: 0n clears. Returns false when there is no slot (no
   * userspace view, outside the window, or a level could not be allocated).
   */
  userspaceSet(entry: number, ua: bigint, alloc: boolean): boolean {
    if (!this.hasUserspaceView || !this.contains(entry)) return false;
    const leaf = this.leafFor(entry - this.itOffset, alloc);
    if (leaf === undefined || leaf === -1) return false;
    const uas = leaf.uas as (bigint | undefined)[];
    const s = this.slot(entry - this.itOffset);
    if (ua === 0n) uas[s] = undefined;
    else uas[s] = ua;
    return true;
  }

  /** True if the level holding absolute `entry` exists (tce_iommu_clear skips whole missing levels). */
  levelPresent(entry: number): boolean {
    const leaf = this.leafFor(entry - this.itOffset, false);
    return leaf !== undefined && leaf !== -1;
  }

  /** Every present TCE as [absolute entry, tce], in entry order (test observation and DMA checks). */
  *entries(): Generator<[number, Tce]> {
    yield* this.walk(this.root, this.itIndirectLevels, 0);
  }

  private *walk(node: Level | Leaf, level: number, base: number): Generator<[number, Tce]> {
    if (level === 0) {
      const leaf = node as Leaf;
      for (const key in leaf.tces) {
        const i = Number(key);
        const tce = leaf.tces[i];
        if (tce !== undefined) yield [this.itOffset + base + i, tce];
      }
      return;
    }
    const span = 2 ** ((level - 1) * this.shift);
    const levelNode = node as Level;
    for (const key in levelNode) {
      const i = Number(key);
      const child = levelNode[i];
      if (child !== undefined) yield* this.walk(child, level - 1, base + i * span);
    }
  }

  private newLeaf(): Leaf {
    // Holey arrays: V8 stores only the slots written, which keeps a sparse window's cost proportional to its use.
    return { tces: [], uas: this.hasUserspaceView ? [] : undefined };
  }

  private newLevel(): Level {
    return [];
  }
}
