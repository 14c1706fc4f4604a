// SPDX-License-Identifier: MIT
/**
 * Drives the sPAPR driver the way the VFIO core does (open → attach → ioctl → detach → release), with real
 * Process/IommuGroup objects and struct bytes from @vfio-ts/uapi, so every rule can be checked without the rest of
 * the kernel. End-to-end paths through the process backend live in e2e.test.ts.
 */
import {
  type Arch,
  codec,
  errnoNumber,
  type IoctlName,
  ioctlNumber,
  ioctls,
  type StructName,
  systemConstants,
} from '@vfio-ts/uapi';
import { IommuGroup } from '../../src/iommu/iommu-group.js';
import type { PlatformProfile, SimKernel } from '../../src/kernel.js';
import { PhysicalMemory } from '../../src/mm/memory.js';
import { Process, type Vma } from '../../src/mm/process.js';
import type { TableGroupParams } from '../../src/powerpc/table-group.js';
import { tceIommuDriverOps } from '../../src/spapr/driver-ops.js';
import type { TceContainer } from '../../src/spapr/tce-container.js';
import type { IommuContext } from '../../src/vfio/iommu-driver.js';
import { UserArg } from '../../src/vfio/user-arg.js';

export const KiB = 1024n;
export const MiB = 1024n * KiB;
export const GiB = 1024n * MiB;

/** -errno for a name, as the driver returns it. */
export const E = (name: string): number => -errnoNumber(name);

/** A kernel with just what the sPAPR driver touches: page size, arch, RAM, the profile, and fault hooks. */
export class FakeKernel {
  readonly memory = new PhysicalMemory();
  readonly arch: Arch;
  readonly littleEndian: boolean;
  readonly pageSize: number;
  /** Sites that fail: the Nth hit of a site (1-based) when given a number, every hit with Infinity. */
  readonly failures = new Map<string, { nth: number; seen: number }>();
  readonly hooks = {
    shouldFail: (site: string): boolean => {
      const f = this.failures.get(site);
      if (f === undefined) return false;
      f.seen++;
      return f.nth === Number.POSITIVE_INFINITY || f.seen === f.nth;
    },
    iommuFault: (): void => {},
  };
  constructor(readonly profile: PlatformProfile) {
    this.arch = profile.arch;
    this.littleEndian = profile.littleEndian;
    this.pageSize = profile.pageSize;
  }
  failNth(site: string, nth = Number.POSITIVE_INFINITY): void {
    this.failures.set(site, { nth, seen: 0 });
  }
  clearFailures(): void {
    this.failures.clear();
  }
}

export interface CallResult {
  readonly ret: number;
  /** The argument bytes after the call (what copy_to_user wrote). */
  readonly bytes: Uint8Array;
  decode<T = Record<string, unknown>>(): T;
}

export class Harness {
  readonly fake: FakeKernel;
  readonly kernel: SimKernel;
  readonly arch: Arch;
  readonly groups: IommuGroup[] = [];
  private nextPid = 100;

  constructor(readonly profile: PlatformProfile) {
    this.fake = new FakeKernel(profile);
    this.kernel = this.fake as unknown as SimKernel;
    this.arch = profile.arch;
    for (const g of profile.groups) this.addGroup(g.id, g.platformData as TableGroupParams);
  }

  get pageSize(): bigint {
    return BigInt(this.profile.pageSize);
  }

  addGroup(id: number, params: TableGroupParams | null): IommuGroup {
    const group = new IommuGroup(id);
    group.platformData = params;
    this.groups.push(group);
    return group;
  }

  group(id: number): IommuGroup {
    const g = this.groups.find((x) => x.id === id);
    if (g === undefined) throw new Error(`no group ${id}`);
    return g;
  }

  process(options: { rlimitMemlock?: bigint; capIpcLock?: boolean } = {}): Process {
    return new Process(this.kernel, this.nextPid++, { rlimitMemlock: 1n << 40n, ...options });
  }

  ctx(process: Process): IommuContext {
    return { kernel: this.kernel, process, arch: this.arch };
  }

  /** Anonymous memory: RW by default, `hugeSize` for a hugetlb mapping. */
  mmap(process: Process, length: bigint, options: { readOnly?: boolean; hugeSize?: number } = {}): Vma {
    const sys = systemConstants(this.arch);
    const prot = options.readOnly ? sys.PROT_READ : sys.PROT_READ | sys.PROT_WRITE;
    const vma = process.mmapAnon(Number(length), prot, options.hugeSize ?? this.profile.pageSize);
    if (typeof vma === 'number') throw new Error(`mmap failed: ${vma}`);
    return vma;
  }

  /** ≙ SET_IOMMU: open the driver and attach the groups in core-list order (newest SET_CONTAINER first). */
  open(process: Process, v2: boolean, groups: IommuGroup[]): TceContainer | number {
    const type = v2 ? 7 : 2;
    const data = tceIommuDriverOps.open(type, this.ctx(process));
    if (typeof data === 'number') return data;
    for (const g of groups) {
      const ret = tceIommuDriverOps.attachGroup(data, g, this.ctx(process));
      if (ret) {
        tceIommuDriverOps.release(data, this.ctx(process));
        return ret;
      }
    }
    return data;
  }

  openOk(process: Process, v2: boolean, groups: IommuGroup[]): TceContainer {
    const c = this.open(process, v2, groups);
    if (typeof c === 'number') throw new Error(`open failed: ${c}`);
    return c;
  }

  attach(container: TceContainer, process: Process, group: IommuGroup): number {
    return tceIommuDriverOps.attachGroup(container, group, this.ctx(process));
  }

  /** ≙ the core's last-group detach: detach_group, then release when no group is left. */
  detach(container: TceContainer, process: Process, group: IommuGroup): void {
    tceIommuDriverOps.detachGroup(container, group, this.ctx(process));
    if (container.groupList.length === 0) tceIommuDriverOps.release(container, this.ctx(process));
  }

  /**
   * One ioctl through the driver's vtable. A struct argument is encoded from `init` (argsz defaults to the struct
   * size); `raw` passes bytes as they are; a number/bigint is passed by value.
   */
  call(
    container: TceContainer | null,
    process: Process,
    name: IoctlName,
    init?: Record<string, unknown> | number | bigint,
    raw?: Uint8Array,
  ): CallResult {
    const spec = ioctls[name].arg;
    let bytes = raw ?? new Uint8Array(0);
    let structName: StructName | undefined;
    let arg: Uint8Array | number | bigint | undefined;
    if (spec.kind === 'struct') {
      structName = spec.struct;
      const c = codec(structName, this.arch);
      if (raw === undefined) bytes = c.encode({ argsz: c.size, ...(init as object) } as never);
      arg = bytes;
    } else {
      arg = init as number | bigint | undefined;
    }
    const ret = tceIommuDriverOps.ioctl(
      container,
      ioctlNumber(name, this.arch),
      new UserArg(process, arg),
      this.ctx(process),
    );
    const arch = this.arch;
    return {
      ret,
      bytes,
      decode<T>(): T {
        if (structName === undefined) throw new Error('not a struct ioctl');
        return codec(structName, arch).decode(bytes) as T;
      },
    };
  }

  ret(
    container: TceContainer | null,
    process: Process,
    name: IoctlName,
    init?: Record<string, unknown> | number | bigint,
  ): number {
    return this.call(container, process, name, init).ret;
  }
}

/** MAP_DMA flags as the uapi spells them. */
export { VFIO_DMA_MAP_FLAG_READ as READ, VFIO_DMA_MAP_FLAG_WRITE as WRITE } from '@vfio-ts/uapi';
