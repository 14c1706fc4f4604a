// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/iommu/iommufd/io_pagetable.c + io_pagetable.h (6.12.y): the IOVA side of an IOAS. Areas (IOVA ranges
 * mapping a slice of an iopt_pages), the reserved ranges (domain apertures, device reserved regions such as the x86
 * MSI window), the allowed ranges of IOAS_ALLOW_IOVAS, the attached iommu_domains and the IOVA alignment they impose
 * (1 with no domain: a fresh IOAS accepts byte-granular maps; the domain's smallest page once one is attached).
 * IOVAs are inclusive [start, last] as in the kernel's interval trees.
 */
import { errnoNumber } from '@vfio-ts/uapi';
import type { SimKernel } from '../kernel.js';
import { IOMMU_WRITE } from '../type1/vfio-iommu.js';
import { type IoptPages, ioptPagesFillStorage, ioptPagesUnfillStorage, ioptPutPages, ULONG_MAX } from './pages.js';

const EADDRINUSE = errnoNumber('EADDRINUSE');
const EBUSY = errnoNumber('EBUSY');
const EEXIST = errnoNumber('EEXIST');
const EINVAL = errnoNumber('EINVAL');
const ENOENT = errnoNumber('ENOENT');
const ENOMEM = errnoNumber('ENOMEM');
const ENOSPC = errnoNumber('ENOSPC');
const EOVERFLOW = errnoNumber('EOVERFLOW');
const EPERM = errnoNumber('EPERM');

/**
 * HPAGE_SIZE on x86_64 with CONFIG_TRANSPARENT_HUGEPAGE (Debian's config): the cap on the alignment iopt_alloc_iova
 * derives from the length and the user VA ("Protect against ALIGN() overflow", 6.13, in 6.12.y).
 */
const HPAGE_SIZE = 1n << 21n;

/** An inclusive IOVA range (≙ interval_tree_node start/last). */
export interface IovaSpan {
  readonly start: bigint;
  readonly last: bigint;
}

/** ≙ struct iopt_reserved: owned by a domain (aperture) or a device (its reserved regions), or by nobody. */
export interface IoptReserved extends IovaSpan {
  readonly owner: unknown;
}

/** ≙ struct iommu_domain as the io_pagetable sees it. */
export interface IommuDomain {
  readonly pgsizeBitmap: bigint;
  readonly apertureStart: bigint;
  readonly apertureEnd: bigint;
}

/** ≙ struct iopt_area: [iova, last] maps bytes [startByte, startByte + length) of `pagesRef`. */
export class IoptArea {
  /** NULL while the area is being created or destroyed (≙ area->pages); set once the domains are filled. */
  pages: IoptPages | null = null;
  /** ≙ area->storage_domain != NULL: its pages are pinned and in every domain of the iopt. */
  filled = false;

  constructor(
    readonly iopt: IoPagetable,
    readonly iova: bigint,
    readonly last: bigint,
    readonly pagesRef: IoptPages,
    /** Offset from pages->uptr (≙ pages_node.start * PAGE_SIZE + page_offset). */
    readonly startByte: bigint,
    /** IOMMU_READ | IOMMU_WRITE */
    readonly iommuProt: number,
  ) {}

  get length(): bigint {
    return this.last - this.iova + 1n;
  }

  /** ≙ area->page_offset */
  get pageOffset(): bigint {
    return this.startByte % BigInt(this.iopt.kernel.pageSize);
  }

  /** ≙ iopt_area_index / iopt_area_last_index */
  get firstIndex(): number {
    return Number(this.startByte / BigInt(this.iopt.kernel.pageSize));
  }

  get lastIndex(): number {
    return Number((this.startByte + this.length - 1n) / BigInt(this.iopt.kernel.pageSize));
  }

  /** ≙ iopt_area_start_byte(area, iova) */
  startByteAt(iova: bigint): bigint {
    return this.startByte + (iova - this.iova);
  }
}

/** ≙ struct io_pagetable */
export class IoPagetable {
  /** ≙ area_itree; sorted by iova, disjoint. */
  readonly areas: IoptArea[] = [];
  /** ≙ allowed_itree */
  allowed: IovaSpan[] = [];
  /** ≙ reserved_itree; ranges of different owners may overlap (two devices reserve the same MSI window). */
  readonly reserved: IoptReserved[] = [];
  /** ≙ iopt->domains, in attach order. */
  readonly domains: IommuDomain[] = [];
  iovaAlignment = 1n;
  disableLargePages = false;

  constructor(readonly kernel: SimKernel) {}

  /** ≙ iopt_area_iter_first: the lowest area intersecting [start, last]. */
  areaIterFirst(start: bigint, last: bigint): IoptArea | undefined {
    let lo = 0;
    let hi = this.areas.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.areas[mid]!.last < start) lo = mid + 1;
      else hi = mid;
    }
    const area = this.areas[lo];
    return area !== undefined && area.iova <= last ? area : undefined;
  }

  /** ≙ iopt_reserved_iter_first */
  reservedIterFirst(start: bigint, last: bigint): IoptReserved | undefined {
    return this.reserved.find((r) => r.start <= last && r.last >= start);
  }

  /** ≙ iopt_allowed_iter_first */
  allowedIterFirst(start: bigint, last: bigint): IovaSpan | undefined {
    return this.allowed.find((r) => r.start <= last && r.last >= start);
  }

  insertArea(area: IoptArea): void {
    let i = 0;
    while (i < this.areas.length && this.areas[i]!.iova < area.iova) i++;
    this.areas.splice(i, 0, area);
  }

  removeArea(area: IoptArea): void {
    const i = this.areas.indexOf(area);
    if (i >= 0) this.areas.splice(i, 1);
  }
}

/** A span of an interval-tree walk (≙ struct interval_tree_span_iter): used, or a hole. */
export interface Span extends IovaSpan {
  readonly used: boolean;
}

/** ≙ interval_tree_for_each_span over the union of `nodes`, clipped to [first, last]. Touching nodes merge. */
export function spans(nodes: readonly IovaSpan[], first: bigint, last: bigint): Span[] {
  const sorted = nodes
    .filter((n) => n.last >= first && n.start <= last)
    .map((n) => ({ start: n.start < first ? first : n.start, last: n.last > last ? last : n.last }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Span[] = [];
  let cur = first;
  let i = 0;
  while (i < sorted.length) {
    const s = sorted[i]!;
    if (s.start > cur) out.push({ start: cur, last: s.start - 1n, used: false });
    let end = s.last;
    i++;
    while (i < sorted.length && sorted[i]!.start <= end + 1n) {
      if (sorted[i]!.last > end) end = sorted[i]!.last;
      i++;
    }
    out.push({ start: s.start > cur ? s.start : cur, last: end, used: true });
    if (end >= last) return out;
    cur = end + 1n;
  }
  if (cur <= last) out.push({ start: cur, last, used: false });
  return out;
}

/** ≙ ALIGN() on an unsigned long: wraps at 2^64. */
function alignUp(x: bigint, a: bigint): bigint {
  return BigInt.asUintN(64, x + a - 1n) & ~(a - 1n);
}

/** ≙ __ffs64 */
function ffs(x: bigint): bigint {
  let n = 0n;
  while (((x >> n) & 1n) === 0n) n++;
  return n;
}

/** ≙ roundup_pow_of_two */
function roundupPowOfTwo(x: bigint): bigint {
  let p = 1n;
  while (p < x) p <<= 1n;
  return p;
}

/** @see io_pagetable.c __alloc_iova_check_hole / __alloc_iova_check_used: the aligned start that fits, or null. */
function allocIovaCheck(span: IovaSpan, length: bigint, alignment: bigint, pageOffset: bigint): bigint | null {
  if (span.last - span.start < length - 1n) return null;
  const start = alignUp(span.start, alignment) | pageOffset;
  if (start > span.last || span.last - start < length - 1n) return null;
  return start;
}

/**
 * @see io_pagetable.c iopt_alloc_iova: the first fitting hole, lowest first, inside the allowed ranges (everything
 * but the first and last page when none were set), outside reserved ranges and areas. Alignment comes from the
 * length and the user VA (capped at HPAGE_SIZE) and keeps the VA's offset in the page; never IOVA 0.
 */
export function ioptAllocIova(iopt: IoPagetable, uptr: bigint, length: bigint): bigint | number {
  const ps = BigInt(iopt.kernel.pageSize);
  const pageOffset = uptr % ps;
  // Protects roundup_pow_of_two() from overflow.
  if (length === 0n || length >= ULONG_MAX / 2n) return -EOVERFLOW;
  let alignment = roundupPowOfTwo(length);
  if (uptr !== 0n) {
    const fromVa = 1n << ffs(uptr);
    if (fromVa < alignment) alignment = fromVa;
  }
  if (alignment >= HPAGE_SIZE) alignment = HPAGE_SIZE;
  if (alignment < iopt.iovaAlignment) return -EINVAL;
  const allowed =
    iopt.allowed.length === 0
      ? [{ start: ps, last: ULONG_MAX - ps, used: true }]
      : spans(iopt.allowed, ps, ULONG_MAX - ps).filter((s) => s.used);
  for (const a of allowed) {
    const start = allocIovaCheck(a, length, alignment, pageOffset);
    if (start === null) continue;
    const used = [...iopt.reserved, ...iopt.areas.map((x) => ({ start: x.iova, last: x.last }))];
    for (const hole of spans(used, start, a.last)) {
      if (hole.used) continue;
      const iova = allocIovaCheck(hole, length, alignment, pageOffset);
      if (iova !== null) return iova;
    }
  }
  return -ENOSPC;
}

/** @see io_pagetable.c iopt_check_iova: a FIXED_IOVA request (allowed ranges are not consulted here). */
function ioptCheckIova(iopt: IoPagetable, iova: bigint, length: bigint): number {
  if ((iova & (iopt.iovaAlignment - 1n)) !== 0n) return -EINVAL;
  const last = iova + length - 1n;
  if (last > ULONG_MAX) return -EOVERFLOW;
  if (iopt.reservedIterFirst(iova, last) !== undefined) return -EINVAL;
  if (iopt.areaIterFirst(iova, last) !== undefined) return -EEXIST;
  return 0;
}

/** ≙ struct iopt_pages_list: one slice of an iopt_pages to place at consecutive IOVAs. */
export interface IoptPagesListElm {
  pages: IoptPages | null;
  area: IoptArea | null;
  readonly startByte: bigint;
  readonly length: bigint;
}

/** @see io_pagetable.c iopt_insert_area: inserted with NULL pages, reserving the IOVA. */
function ioptInsertArea(
  iopt: IoPagetable,
  elm: IoptPagesListElm,
  pages: IoptPages,
  iova: bigint,
  iommuProt: number,
): number {
  if ((iommuProt & IOMMU_WRITE) !== 0 && !pages.writable) return -EPERM;
  const ps = BigInt(iopt.kernel.pageSize);
  if (((elm.startByte % ps) & (iopt.iovaAlignment - 1n)) !== 0n) return -EINVAL;
  const last = iova + elm.length - 1n;
  if (last > ULONG_MAX) return -EOVERFLOW;
  if (elm.startByte + elm.length - 1n > ULONG_MAX) return -EOVERFLOW;
  if ((elm.startByte + elm.length - 1n) / ps >= BigInt(pages.npages)) return -EOVERFLOW;
  const area = new IoptArea(iopt, iova, last, pages, elm.startByte, iommuProt);
  elm.area = area;
  iopt.insertArea(area);
  return 0;
}

/** @see io_pagetable.c iopt_alloc_area_pages: returns the IOVA of the first area, or -errno. */
function ioptAllocAreaPages(
  iopt: IoPagetable,
  list: IoptPagesListElm[],
  length: bigint,
  dstIova: bigint,
  iommuProt: number,
  allocIova: boolean,
): bigint | number {
  for (const _ of list) if (iopt.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
  if ((length & (iopt.iovaAlignment - 1n)) !== 0n || length === 0n) return -EINVAL;
  let iova = dstIova;
  if (allocIova) {
    // The first element's user VA decides the alignment.
    const first = list[0]!;
    const got = ioptAllocIova(iopt, first.pages!.uptr + first.startByte, length);
    if (typeof got === 'number') return got;
    iova = got;
  } else {
    const rc = ioptCheckIova(iopt, iova, length);
    if (rc !== 0) return rc;
  }
  let at = iova;
  for (const elm of list) {
    const rc = ioptInsertArea(iopt, elm, elm.pages!, at, iommuProt);
    if (rc !== 0) return rc;
    at += elm.length;
  }
  return iova;
}

/** @see io_pagetable.c iopt_abort_area */
export function ioptAbortArea(area: IoptArea): void {
  area.iopt.removeArea(area);
}

/** @see io_pagetable.c iopt_free_pages_list */
export function ioptFreePagesList(list: IoptPagesListElm[]): void {
  for (const elm of list) {
    if (elm.area !== null) ioptAbortArea(elm.area);
    if (elm.pages !== null) ioptPutPages(elm.pages);
    elm.area = null;
    elm.pages = null;
  }
  list.length = 0;
}

/** @see pages.c iopt_area_fill_domains: pin, map into every domain, account; nothing to do without a domain. */
function ioptAreaFillDomains(area: IoptArea, pages: IoptPages): number {
  const iopt = area.iopt;
  if (iopt.domains.length === 0) return 0;
  const rc = ioptPagesFillStorage(pages, area.firstIndex, area.lastIndex, iopt.domains.length);
  if (rc !== 0) return rc;
  area.filled = true;
  return 0;
}

/** @see pages.c iopt_area_unfill_domains: unmap from every domain, then unpin what nothing else stores. */
function ioptAreaUnfillDomains(area: IoptArea, pages: IoptPages): void {
  if (!area.filled) return;
  area.filled = false;
  ioptPagesUnfillStorage(pages, area.firstIndex, area.lastIndex);
}

/** @see io_pagetable.c iopt_map_pages: returns the IOVA the first element went to, or -errno (areas aborted by the caller). */
export function ioptMapPages(
  iopt: IoPagetable,
  list: IoptPagesListElm[],
  length: bigint,
  dstIova: bigint,
  iommuProt: number,
  allocIova: boolean,
): bigint | number {
  const iova = ioptAllocAreaPages(iopt, list, length, dstIova, iommuProt, allocIova);
  if (typeof iova === 'number') return iova;
  for (let i = 0; i < list.length; i++) {
    const elm = list[i]!;
    const rc = ioptAreaFillDomains(elm.area!, elm.pages!);
    if (rc !== 0) {
      for (let j = 0; j < i; j++) ioptAreaUnfillDomains(list[j]!.area!, list[j]!.pages!);
      return rc;
    }
  }
  // Moves the list's page references into the areas.
  for (const elm of list) {
    elm.area!.pages = elm.pages;
    elm.pages = null;
    elm.area = null;
  }
  return iova;
}

/** @see io_pagetable.c iopt_get_pages (IOAS_COPY): the areas exactly covering [iova, iova + length) in a row. */
export function ioptGetPagesList(iopt: IoPagetable, iova: bigint, length: bigint): IoptPagesListElm[] | number {
  if (length === 0n) return -EINVAL;
  const lastIova = iova + length - 1n;
  if (lastIova > ULONG_MAX) return -EOVERFLOW;
  const list: IoptPagesListElm[] = [];
  // ≙ iopt_for_each_contig_area: starts at the area holding `iova`, each next one must start right after.
  let cur = iova;
  let area = iopt.areaIterFirst(cur, cur);
  let done = false;
  while (area !== undefined && area.pages !== null && area.iova <= cur) {
    if (iopt.kernel.hooks.shouldFail('kzalloc')) {
      ioptFreePagesList(list);
      return -ENOMEM;
    }
    const last = lastIova < area.last ? lastIova : area.last;
    area.pages.refs++;
    list.push({ pages: area.pages, area: null, startByte: area.startByteAt(cur), length: last - cur + 1n });
    if (lastIova <= area.last) {
      done = true;
      break;
    }
    cur = area.last + 1n;
    const next = iopt.areaIterFirst(cur, lastIova);
    if (next === undefined || next.iova !== cur) break;
    area = next;
  }
  if (!done) {
    ioptFreePagesList(list);
    return -ENOENT;
  }
  return list;
}

/**
 * @see io_pagetable.c iopt_unmap_iova_range: removes whole areas inside [start, last], lowest first. An area
 * sticking out of the range stops the walk with ENOENT — areas already removed stay removed. Returns the bytes
 * unmapped either way (6.12.y after "iommufd: Make vfio_compat's unmap succeed if the range is already empty":
 * an empty range is rc 0 here; IOMMU_IOAS_UNMAP turns 0 bytes into ENOENT itself).
 */
export function ioptUnmapIovaRange(iopt: IoPagetable, start: bigint, last: bigint): [number, bigint] {
  let unmapped = 0n;
  for (;;) {
    const area = iopt.areaIterFirst(start, last);
    if (area === undefined) break;
    if (area.pages === null) return [-EBUSY, unmapped];
    if (area.iova < start || area.last > last) return [-ENOENT, unmapped];
    const pages = area.pages;
    area.pages = null;
    ioptAreaUnfillDomains(area, pages);
    ioptAbortArea(area);
    ioptPutPages(pages);
    unmapped += area.last - area.iova + 1n;
  }
  return [0, unmapped];
}

/** @see io_pagetable.c iopt_unmap_iova */
export function ioptUnmapIova(iopt: IoPagetable, iova: bigint, length: bigint): [number, bigint] {
  if (length === 0n) return [-EINVAL, 0n];
  const last = iova + length - 1n;
  if (last > ULONG_MAX) return [-EOVERFLOW, 0n];
  return ioptUnmapIovaRange(iopt, iova, last);
}

/** @see io_pagetable.c iopt_unmap_all */
export function ioptUnmapAll(iopt: IoPagetable): [number, bigint] {
  return ioptUnmapIovaRange(iopt, 0n, ULONG_MAX);
}

/** @see io_pagetable.c iopt_set_allow_iova: all or nothing; an allowed range over a reserved one is EADDRINUSE. */
export function ioptSetAllowIova(iopt: IoPagetable, allowed: IovaSpan[]): number {
  for (const a of allowed) if (iopt.reservedIterFirst(a.start, a.last) !== undefined) return -EADDRINUSE;
  iopt.allowed = allowed;
  return 0;
}

/** @see io_pagetable.c iopt_reserve_iova */
export function ioptReserveIova(iopt: IoPagetable, start: bigint, last: bigint, owner: unknown): number {
  if (iopt.areaIterFirst(start, last) !== undefined || iopt.allowedIterFirst(start, last) !== undefined)
    return -EADDRINUSE;
  if (iopt.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
  iopt.reserved.push({ start, last, owner });
  return 0;
}

/** @see io_pagetable.c iopt_remove_reserved_iova */
export function ioptRemoveReservedIova(iopt: IoPagetable, owner: unknown): void {
  for (let i = iopt.reserved.length - 1; i >= 0; i--) if (iopt.reserved[i]!.owner === owner) iopt.reserved.splice(i, 1);
}

/**
 * @see io_pagetable.c iopt_table_enforce_dev_resv_regions: every reserved region of the device (not
 * DIRECT_RELAXABLE) becomes reserved IOVA owned by the device; an area or allowed range already there → EADDRINUSE.
 */
export function ioptTableEnforceDevResvRegions(iopt: IoPagetable, dev: unknown, regions: readonly IovaSpan[]): number {
  for (const r of regions) {
    const rc = ioptReserveIova(iopt, r.start, r.last, dev);
    if (rc !== 0) {
      ioptRemoveReservedIova(iopt, dev);
      return rc;
    }
  }
  return 0;
}

/** @see io_pagetable.c iopt_check_iova_alignment: every area conforms to a larger alignment, else EADDRINUSE. */
function ioptCheckIovaAlignment(iopt: IoPagetable, alignment: bigint): number {
  const mask = alignment - 1n;
  for (const area of iopt.areas)
    if ((area.iova & mask) !== 0n || (area.length & mask) !== 0n || (area.pageOffset & mask) !== 0n) return -EADDRINUSE;
  return 0;
}

/** 1 << __ffs(pgsize_bitmap) */
function smallestPage(bitmap: bigint): bigint {
  return bitmap & -bitmap;
}

/**
 * @see io_pagetable.c iopt_table_add_domain: alignment, aperture reservations, then the domain is filled with every
 * area (the first domain pins and accounts; later ones reuse the stored pages). On failure nothing changes.
 */
export function ioptTableAddDomain(iopt: IoPagetable, domain: IommuDomain): number {
  const ps = BigInt(iopt.kernel.pageSize);
  let newAlignment = smallestPage(domain.pgsizeBitmap);
  if (iopt.iovaAlignment > newAlignment) newAlignment = iopt.iovaAlignment;
  if (newAlignment > ps) return -EINVAL;
  if (newAlignment !== iopt.iovaAlignment) {
    const rc = ioptCheckIovaAlignment(iopt, newAlignment);
    if (rc !== 0) return rc;
  }
  // No area may sit outside the aperture.
  if (domain.apertureStart !== 0n) {
    const rc = ioptReserveIova(iopt, 0n, domain.apertureStart - 1n, domain);
    if (rc !== 0) {
      ioptRemoveReservedIova(iopt, domain);
      return rc;
    }
  }
  if (domain.apertureEnd !== ULONG_MAX) {
    const rc = ioptReserveIova(iopt, domain.apertureEnd + 1n, ULONG_MAX, domain);
    if (rc !== 0) {
      ioptRemoveReservedIova(iopt, domain);
      return rc;
    }
  }
  // iopt_fill_domain
  const first = iopt.domains.length === 0;
  const done: IoptArea[] = [];
  for (const area of iopt.areas) {
    if (area.pages === null) continue;
    let rc: number;
    if (first) {
      rc = ioptPagesFillStorage(area.pages, area.firstIndex, area.lastIndex, 1);
    } else {
      // The PFNs come from the storage domain: only the iommu_map can fail.
      rc = iopt.kernel.hooks.shouldFail('iommu_map') ? -ENOMEM : 0;
    }
    if (rc !== 0) {
      if (first) for (const a of done) ioptPagesUnfillStorage(a.pages!, a.firstIndex, a.lastIndex);
      for (const a of done) a.filled = !first;
      ioptRemoveReservedIova(iopt, domain);
      return rc;
    }
    area.filled = true;
    done.push(area);
  }
  iopt.iovaAlignment = newAlignment;
  iopt.domains.push(domain);
  return 0;
}

/** @see io_pagetable.c iopt_calculate_iova_alignment */
function ioptCalculateIovaAlignment(iopt: IoPagetable): number {
  // See batch_iommu_map_small(): with large pages disabled everything is PAGE_SIZE.
  let alignment = iopt.disableLargePages ? BigInt(iopt.kernel.pageSize) : 1n;
  for (const d of iopt.domains) {
    const p = smallestPage(d.pgsizeBitmap);
    if (p > alignment) alignment = p;
  }
  if (alignment > iopt.iovaAlignment) {
    const rc = ioptCheckIovaAlignment(iopt, alignment);
    if (rc !== 0) return rc;
  }
  iopt.iovaAlignment = alignment;
  return 0;
}

/** @see io_pagetable.c iopt_table_remove_domain: the last domain to go unpins and unaccounts every area. */
export function ioptTableRemoveDomain(iopt: IoPagetable, domain: IommuDomain): void {
  const i = iopt.domains.indexOf(domain);
  if (i < 0) return;
  iopt.domains.splice(i, 1);
  // iopt_unfill_domain: with another domain left it keeps storing the pages; only this domain is unmapped.
  if (iopt.domains.length === 0) {
    for (const area of iopt.areas) {
      if (area.pages === null || !area.filled) continue;
      area.filled = false;
      ioptPagesUnfillStorage(area.pages, area.firstIndex, area.lastIndex);
    }
  }
  ioptRemoveReservedIova(iopt, domain);
  ioptCalculateIovaAlignment(iopt);
}

/** @see io_pagetable.c iopt_disable_large_pages: refused once a domain holds mappings. */
export function ioptDisableLargePages(iopt: IoPagetable): number {
  if (iopt.disableLargePages) return 0;
  if (iopt.domains.length > 0 && iopt.areas.length > 0) return -EINVAL;
  iopt.disableLargePages = true;
  const rc = ioptCalculateIovaAlignment(iopt);
  if (rc !== 0) iopt.disableLargePages = false;
  return rc;
}

/** @see io_pagetable.c iopt_enable_large_pages */
export function ioptEnableLargePages(iopt: IoPagetable): void {
  iopt.disableLargePages = false;
  ioptCalculateIovaAlignment(iopt);
}

/**
 * @see io_pagetable.c iopt_area_split (VFIO type1 v1 emulation): `iova` becomes the last byte of a new left area;
 * both halves share the pages (the index they may share is stored twice).
 */
function ioptAreaSplit(area: IoptArea, iova: bigint): number {
  const iopt = area.iopt;
  const alignment = iopt.iovaAlignment;
  if (iova === area.iova || iova === area.last) return 0;
  const pages = area.pages;
  if (pages === null) return -EBUSY;
  const newStart = iova + 1n;
  if ((newStart & (alignment - 1n)) !== 0n || (area.startByteAt(newStart) & (alignment - 1n)) !== 0n) return -EINVAL;
  if (iopt.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
  if (iopt.kernel.hooks.shouldFail('kzalloc')) return -ENOMEM;
  // Splitting is not permitted if a domain could have been mapped with huge pages.
  if (area.filled && !iopt.disableLargePages) return -EINVAL;
  const lhs = new IoptArea(iopt, area.iova, iova, pages, area.startByte, area.iommuProt);
  const rhs = new IoptArea(iopt, newStart, area.last, pages, area.startByteAt(newStart), area.iommuProt);
  lhs.pages = pages;
  rhs.pages = pages;
  pages.refs++;
  if (area.filled) {
    lhs.filled = true;
    rhs.filled = true;
    // ≙ replacing area->pages_node by lhs's and rhs's in pages->domains_itree.
    for (let i = rhs.firstIndex; i <= lhs.lastIndex; i++)
      pages.storageUsers.set(i, (pages.storageUsers.get(i) ?? 0) + 1);
  }
  iopt.removeArea(area);
  iopt.insertArea(lhs);
  iopt.insertArea(rhs);
  return 0;
}

/** @see io_pagetable.c iopt_cut_iova */
export function ioptCutIova(iopt: IoPagetable, iovas: readonly bigint[]): number {
  for (const iova of iovas) {
    const area = iopt.areaIterFirst(iova, iova);
    if (area === undefined) continue;
    const rc = ioptAreaSplit(area, iova);
    if (rc !== 0) return rc;
  }
  return 0;
}
