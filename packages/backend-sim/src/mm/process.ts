// SPDX-License-Identifier: MIT
/**
 * ≙ task_struct + mm_struct: one simulated process with its fd table, address space and locked-memory accounting.
 */
import { errnoNumber, systemConstants } from '@vfio-ts/uapi';
import { FdTable } from '../fd/fd-table.js';
import type { SimKernel } from '../kernel.js';
import type { PhysPage, SimPage } from './memory.js';

export { accountLockedVm, accountLockedVmBypass } from './account.js';

const EFAULT = errnoNumber('EFAULT');
const ENOMEM = errnoNumber('ENOMEM');
const EINVAL = errnoNumber('EINVAL');

export const RLIM_INFINITY = 2n ** 64n - 1n;

/** ≙ vm_area_struct */
export interface Vma {
  readonly start: bigint;
  readonly end: bigint;
  readonly prot: number;
  /** Anonymous RAM (pinnable), or a device region (VM_PFNMAP/VM_IO: not pinnable by pin_user_pages). */
  readonly kind: 'anon' | 'pfnmap';
  /** Backing page size: PAGE_SIZE, or a hugetlb size. */
  readonly backingPageSize: number;
  /** The bytes the process sees at [start, end). */
  readonly bytes: Uint8Array;
  /** RAM pages (anon only), one per PAGE_SIZE. */
  readonly pages: readonly PhysPage[];
}

export interface ProcessOptions {
  readonly rlimitMemlock?: bigint;
  readonly capIpcLock?: boolean;
}

export class Process {
  readonly pid: number;
  readonly kernel: SimKernel;
  /** Pages, what /proc/<pid>/status VmLck shows. */
  lockedVm = 0;
  /** Pages (VmPin); VFIO never charges it but drivers may. */
  pinnedVm = 0;
  /** Bytes; RLIM_INFINITY = 2n**64n-1n. */
  rlimitMemlock: bigint;
  capIpcLock: boolean;
  readonly pageSize: number;
  readonly fds = new FdTable();
  /** Sorted by start. */
  readonly vmas: Vma[] = [];
  exited = false;
  private nextAddr: bigint;
  private readonly protRead: number;
  private readonly protWrite: number;

  constructor(kernel: SimKernel, pid: number, options: ProcessOptions = {}) {
    this.kernel = kernel;
    this.pid = pid;
    this.pageSize = kernel.pageSize;
    // Debian's default RLIMIT_MEMLOCK is 8 MiB; root tests pass capIpcLock explicitly.
    this.rlimitMemlock = options.rlimitMemlock ?? 8n << 20n;
    this.capIpcLock = options.capIpcLock ?? false;
    this.nextAddr = 0x7f00_0000_0000n - BigInt(pid) * 0x10_0000_0000n;
    const sys = systemConstants(kernel.arch);
    this.protRead = sys.PROT_READ;
    this.protWrite = sys.PROT_WRITE;
  }

  findVma(addr: bigint): Vma | undefined {
    for (const vma of this.vmas) {
      if (addr >= vma.start && addr < vma.end) return vma;
    }
    return undefined;
  }

  /**
   * ≙ do_mmap of anonymous memory (MAP_PRIVATE|MAP_ANONYMOUS, or MAP_HUGETLB with `backingPageSize`).
   * Returns the VMA or -ENOMEM / -EINVAL.
   */
  mmapAnon(length: number, prot: number, backingPageSize = this.pageSize): Vma | number {
    if (length <= 0 || backingPageSize % this.pageSize !== 0) return -EINVAL;
    if (this.kernel.hooks.shouldFail('mmap')) return -ENOMEM;
    const size = roundUp(length, backingPageSize);
    const start = this.allocRange(size, backingPageSize);
    const bytes = new Uint8Array(size);
    const pages = this.kernel.memory.allocPages(bytes, this.pageSize, backingPageSize);
    const vma: Vma = { start, end: start + BigInt(size), prot, kind: 'anon', backingPageSize, bytes, pages };
    this.insertVma(vma);
    return vma;
  }

  /** ≙ remap_pfn_range from a driver's mmap: device memory, never pinnable. */
  mmapPfn(bytes: Uint8Array, prot: number): Vma {
    const start = this.allocRange(roundUp(bytes.length, this.pageSize), this.pageSize);
    const vma: Vma = {
      start,
      end: start + BigInt(bytes.length),
      prot,
      kind: 'pfnmap',
      backingPageSize: this.pageSize,
      bytes,
      pages: [],
    };
    this.insertVma(vma);
    return vma;
  }

  /** ≙ munmap of a whole VMA: pages still pinned by an IOMMU stay alive (with their data) until unpinned. */
  munmap(vma: Vma): number {
    const index = this.vmas.indexOf(vma);
    if (index < 0) return -EINVAL;
    this.vmas.splice(index, 1);
    for (const page of vma.pages) this.kernel.memory.unmapPage(page);
    // Detach the process's view as the Backend contract promises; pinned pages already hold private copies.
    if (vma.kind === 'anon') structuredClone(vma.bytes.buffer, { transfer: [vma.bytes.buffer as ArrayBuffer] });
    return 0;
  }

  /**
   * ≙ pin_user_pages(FOLL_LONGTERM | (write ? FOLL_WRITE : 0)): resolves [vaddr, vaddr + npages*PAGE_SIZE) to
   * pages and pins them, honouring VMA protections; all or nothing. -EFAULT for holes, PFNMAP and protections.
   */
  pinUserPages(vaddr: bigint, npages: number, write: boolean): SimPage[] | number {
    if (this.kernel.hooks.shouldFail('pin_user_pages')) return -ENOMEM;
    const pages: PhysPage[] = [];
    const ps = BigInt(this.pageSize);
    for (let i = 0; i < npages; i++) {
      const addr = vaddr + BigInt(i) * ps;
      const vma = this.findVma(addr);
      if (vma === undefined || vma.kind !== 'anon') return -EFAULT;
      if ((vma.prot & this.protRead) === 0 || (write && (vma.prot & this.protWrite) === 0)) return -EFAULT;
      pages.push(vma.pages[Number((addr - vma.start) / ps)]!);
    }
    for (const page of pages) page.pinCount++;
    return pages;
  }

  unpinUserPages(pages: readonly SimPage[]): void {
    for (const page of pages) this.kernel.memory.unpin(page as PhysPage);
  }

  /** ≙ copy_from_user from a plain address (arguments passed by value that the kernel treats as pointers). */
  readUser(addr: bigint, length: number): Uint8Array | number {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const at = addr + BigInt(done);
      const vma = this.findVma(at);
      if (vma === undefined || (vma.prot & this.protRead) === 0) return -EFAULT;
      const off = Number(at - vma.start);
      const n = Math.min(length - done, vma.bytes.length - off);
      out.set(vma.bytes.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  /** ≙ copy_to_user to a plain address. */
  writeUser(addr: bigint, data: Uint8Array): number {
    let done = 0;
    while (done < data.length) {
      const at = addr + BigInt(done);
      const vma = this.findVma(at);
      if (vma === undefined || (vma.prot & this.protWrite) === 0) return -EFAULT;
      const off = Number(at - vma.start);
      const n = Math.min(data.length - done, vma.bytes.length - off);
      vma.bytes.set(data.subarray(done, done + n), off);
      done += n;
    }
    return 0;
  }

  private allocRange(size: number, align: number): bigint {
    const a = BigInt(align);
    // Mappings grow downwards like mmap's top-down allocator, with a guard page between them.
    let start = this.nextAddr - BigInt(size);
    start &= ~(a - 1n);
    this.nextAddr = start - BigInt(this.pageSize);
    return start;
  }

  private insertVma(vma: Vma): void {
    let i = 0;
    while (i < this.vmas.length && this.vmas[i]!.start < vma.start) i++;
    this.vmas.splice(i, 0, vma);
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
