// SPDX-License-Identifier: MIT
/**
 * Test-only observation of the iommufd model (≙ what CONFIG_IOMMUFD_TEST's selftest checks from inside): object
 * refcounts, IOAS areas and their pins, the USER / MM / pinned_vm accounting, and a digest of all of it so tests can
 * say "this failed call changed nothing". Nothing here is reachable through `Backend`.
 */
import type { SimKernel } from '../kernel.js';
import type { PhysPage } from '../mm/memory.js';
import type { SimProcessBackend } from '../process-backend.js';
import { iommufdGroupDomain } from './device.js';
import type { IommufdCtx, IommufdIoas } from './iommufd-private.js';
import { iommufdContexts } from './main.js';
import { currentUser, type IoptPages } from './pages.js';

/** One area of an IOAS as a test sees it. */
export interface IoasArea {
  readonly iova: bigint;
  readonly length: bigint;
  readonly prot: number;
  /** Pinned and in the attached domains (only while some HWPT of the IOAS exists). */
  readonly filled: boolean;
  readonly userVa: bigint;
}

function ctxOf(backend: SimProcessBackend, fd: number): IommufdCtx {
  const file = backend.process.fds.get(fd);
  if (typeof file === 'number' || file.kind !== 'iommufd') throw new TypeError(`fd ${fd} is not an iommufd`);
  return file.privateData as IommufdCtx;
}

/** The areas of IOAS `ioasId` of the iommufd open at `fd`, in IOVA order. */
export function ioasAreas(backend: SimProcessBackend, fd: number, ioasId: number): IoasArea[] {
  const obj = ctxOf(backend, fd).objects.get(ioasId);
  if (obj?.type !== 'ioas') throw new TypeError(`${ioasId} is not an IOAS`);
  return obj.iopt.areas.map((a) => ({
    iova: a.iova,
    length: a.length,
    prot: a.iommuProt,
    filled: a.filled,
    userVa: a.pagesRef.uptr + a.startByte,
  }));
}

/** The object IDs of the iommufd open at `fd` and their types. */
export function iommufdObjects(backend: SimProcessBackend, fd: number): [number, string][] {
  return [...ctxOf(backend, fd).objects]
    .filter(([, o]) => o !== null)
    .map(([id, o]): [number, string] => [id, o!.type])
    .sort((a, b) => a[0] - b[0]);
}

/** ≙ the user's locked_vm (pages) that iommufd's USER accounting charges. */
export function userLockedVm(kernel: SimKernel): number {
  return currentUser(kernel).lockedVm;
}

/** How many iommufd contexts are alive (files not yet released). */
export function liveIommufdContexts(kernel: SimKernel): number {
  return iommufdContexts(kernel).size;
}

function ioasesOf(ictx: IommufdCtx): IommufdIoas[] {
  return [...ictx.objects.values()].filter((o): o is IommufdIoas => o?.type === 'ioas');
}

function allPages(kernel: SimKernel): Set<IoptPages> {
  const out = new Set<IoptPages>();
  for (const ictx of iommufdContexts(kernel))
    for (const ioas of ioasesOf(ictx)) for (const a of ioas.iopt.areas) out.add(a.pagesRef);
  return out;
}

/** Pages each process has charged to its own locked_vm through iommufd's MM mode (for checkInvariants' extraLocked). */
export function iommufdMmLockedVm(kernel: SimKernel, pid: number): number {
  let n = 0;
  for (const pages of allPages(kernel))
    if (pages.accountMode === 'mm' && pages.sourceMm.pid === pid) n += pages.npinned;
  return n;
}

/**
 * The model's invariants, as a list of violations: users counts match the references held; areas sorted, disjoint,
 * clear of reserved ranges and aligned; an area is filled iff its IOAS has a domain; every index some filled area
 * covers is pinned exactly once, with a live, pinned page; the user's locked_vm and every process's pinned_vm equal
 * what the pins charge; a group translates through iommufd iff one of its devices is attached.
 */
export function iommufdCheckInvariants(kernel: SimKernel): string[] {
  const problems: string[] = [];
  for (const ictx of iommufdContexts(kernel)) {
    const attachedTo = new Map<unknown, number>();
    for (const igroup of ictx.groups.values()) {
      if ((igroup.hwpt === null) !== (igroup.deviceList.length === 0))
        problems.push(
          `group ${igroup.group.id}: hwpt set ${igroup.hwpt !== null} with ${igroup.deviceList.length} attached`,
        );
      if (iommufdGroupDomain(igroup.group) !== igroup.hwpt)
        problems.push(`group ${igroup.group.id}: DMA domain is stale`);
      if (igroup.hwpt !== null)
        attachedTo.set(igroup.hwpt, (attachedTo.get(igroup.hwpt) ?? 0) + igroup.deviceList.length);
    }
    for (const [id, obj] of ictx.objects) {
      if (obj === null) {
        problems.push(`id ${id}: reserved at rest`);
        continue;
      }
      if (obj.id !== id) problems.push(`id ${id}: object says ${obj.id}`);
      let expected: number;
      if (obj.type === 'device') expected = 2 + (obj.igroup.deviceList.includes(obj) ? 1 : 0);
      else if (obj.type === 'ioas') expected = 1 + obj.hwptList.length;
      else expected = 1 + (attachedTo.get(obj) ?? 0);
      if (obj.users !== expected) problems.push(`${obj.type} ${id}: users ${obj.users} != ${expected}`);
      if (obj.type === 'hwpt_paging') {
        if (obj.inHwptList !== obj.ioas.hwptList.includes(obj)) problems.push(`hwpt ${id}: hwpt_list membership`);
        if (obj.inHwptList !== obj.ioas.iopt.domains.includes(obj.domain))
          problems.push(`hwpt ${id}: domain not in iopt`);
        if (ictx.objects.get(obj.ioas.id) !== obj.ioas) problems.push(`hwpt ${id}: its IOAS is gone`);
        if (obj.autoDomain && (attachedTo.get(obj) ?? 0) === 0) problems.push(`hwpt ${id}: auto domain without device`);
      }
      if (obj.type !== 'ioas') continue;
      const iopt = obj.iopt;
      let prevLast = -1n;
      for (const a of iopt.areas) {
        const at = `ioas ${id} area 0x${a.iova.toString(16)}`;
        if (a.iova <= prevLast) problems.push(`${at}: overlaps its predecessor`);
        prevLast = a.last;
        if (a.pages === null) problems.push(`${at}: no pages at rest`);
        if (a.filled !== iopt.domains.length > 0)
          problems.push(`${at}: filled ${a.filled} with ${iopt.domains.length} domains`);
        if (iopt.reservedIterFirst(a.iova, a.last) !== undefined) problems.push(`${at}: inside a reserved range`);
        const mask = iopt.iovaAlignment - 1n;
        if ((a.iova & mask) !== 0n || (a.length & mask) !== 0n || (a.pageOffset & mask) !== 0n)
          problems.push(`${at}: not aligned to ${iopt.iovaAlignment}`);
      }
      for (const d of iopt.domains)
        if ((d.pgsizeBitmap & -d.pgsizeBitmap) > iopt.iovaAlignment)
          problems.push(`ioas ${id}: alignment below a domain's page`);
      if (iopt.domains.length === 0 && iopt.reserved.length > 0)
        problems.push(`ioas ${id}: reserved ranges without a domain`);
    }
  }
  // Pins: per iopt_pages, what the filled areas cover is pinned once; the accounting follows the pins.
  const cover = new Map<IoptPages, Map<number, number>>();
  for (const ictx of iommufdContexts(kernel))
    for (const ioas of ioasesOf(ictx))
      for (const a of ioas.iopt.areas) {
        if (!a.filled) continue;
        let m = cover.get(a.pagesRef);
        if (m === undefined) {
          m = new Map();
          cover.set(a.pagesRef, m);
        }
        for (let i = a.firstIndex; i <= a.lastIndex; i++) m.set(i, (m.get(i) ?? 0) + 1);
      }
  let userCharged = 0;
  const pinnedBy = new Map<number, number>();
  for (const pages of allPages(kernel)) {
    const m = cover.get(pages) ?? new Map<number, number>();
    if (pages.npinned !== pages.pinned.size)
      problems.push(`pages 0x${pages.uptr.toString(16)}: npinned ${pages.npinned} != ${pages.pinned.size}`);
    if (pages.lastNpinned !== pages.npinned)
      problems.push(`pages 0x${pages.uptr.toString(16)}: accounted ${pages.lastNpinned} != pinned ${pages.npinned}`);
    if (m.size !== pages.pinned.size)
      problems.push(`pages 0x${pages.uptr.toString(16)}: ${pages.pinned.size} pinned for ${m.size} stored`);
    for (const [i, n] of m) {
      if (pages.storageUsers.get(i) !== n)
        problems.push(`pages 0x${pages.uptr.toString(16)}[${i}]: storage ${pages.storageUsers.get(i)} != ${n}`);
      const page = pages.pinned.get(i);
      if (page === undefined) problems.push(`pages 0x${pages.uptr.toString(16)}[${i}]: stored but not pinned`);
      else {
        if ((page as PhysPage).freed) problems.push(`pages 0x${pages.uptr.toString(16)}[${i}]: points at freed hpa`);
        if (page.pinCount <= 0) problems.push(`pages 0x${pages.uptr.toString(16)}[${i}]: holds an unpinned page`);
      }
    }
    if (pages.accountMode === 'user') userCharged += pages.lastNpinned;
    pinnedBy.set(pages.sourceMm.pid, (pinnedBy.get(pages.sourceMm.pid) ?? 0) + pages.lastNpinned);
  }
  const user = currentUser(kernel).lockedVm;
  if (user !== userCharged) problems.push(`user locked_vm ${user} != ${userCharged} charged by iommufd`);
  for (const proc of kernel.processes.values()) {
    const expected = pinnedBy.get(proc.pid) ?? 0;
    if (proc.pinnedVm !== expected) problems.push(`pid ${proc.pid}: pinned_vm ${proc.pinnedVm} != ${expected}`);
  }
  return problems;
}

/** Everything of the iommufd model a failed call must leave unchanged (combine with testing's stateDigest). */
export function iommufdStateDigest(kernel: SimKernel): string {
  const out: unknown[] = [currentUser(kernel).lockedVm];
  for (const ictx of iommufdContexts(kernel)) {
    out.push(['ctx', ictx.accountMode, ictx.vfioIoas?.id ?? 0, [...ictx.groups.keys()]]);
    for (const [id, obj] of [...ictx.objects].sort((a, b) => a[0] - b[0])) {
      if (obj === null) {
        out.push([id, null]);
        continue;
      }
      out.push([id, obj.type, obj.users]);
      if (obj.type === 'hwpt_paging') out.push([obj.ioas.id, obj.autoDomain, obj.inHwptList]);
      if (obj.type !== 'ioas') continue;
      const iopt = obj.iopt;
      out.push(['al', iopt.iovaAlignment, iopt.disableLargePages, iopt.domains.length]);
      out.push(['r', iopt.reserved.map((r) => [r.start, r.last])]);
      out.push(['w', iopt.allowed.map((r) => [r.start, r.last])]);
      for (const a of iopt.areas) out.push([a.iova, a.last, a.iommuProt, a.filled, a.pagesRef.npinned]);
    }
  }
  return JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));
}
