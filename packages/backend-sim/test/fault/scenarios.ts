// SPDX-License-Identifier: MIT
/**
 * Whole user-space scenarios as lists of named steps, written against the process backend (ioctls as user space
 * issues them), for the fail-nth sweeps: type1 map/unmap with device DMA; sPAPR v2 register + create window + map +
 * DMA + teardown; sPAPR v1 enable + map + DMA + disable. Each step either succeeds or throws VfioSystemError.
 */
import { isSystemError } from '@vfio-ts/core';
import {
  codec,
  type IoctlName,
  ioctlNumber,
  type StructName,
  systemConstants,
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
  VFIO_TYPE1v2_IOMMU,
} from '@vfio-ts/uapi';
import type { SimKernel, SimProcessBackend } from '../../src/index.js';

export interface Ctx {
  readonly kernel: SimKernel;
  readonly be: SimProcessBackend;
  readonly fds: Map<string, number>;
  readonly mem: Map<string, { address: bigint; length: number; bytes: Uint8Array }>;
  /** Values later steps need (a window's start address). */
  readonly vals: Map<string, bigint>;
}

export interface Step {
  readonly name: string;
  run(ctx: Ctx): void;
}

export interface Scenario {
  readonly name: string;
  readonly profile: string;
  readonly steps: readonly Step[];
}

const structOf: Partial<Record<IoctlName, StructName>> = {
  VFIO_IOMMU_GET_INFO: 'vfio_iommu_type1_info',
  VFIO_IOMMU_MAP_DMA: 'vfio_iommu_type1_dma_map',
  VFIO_IOMMU_UNMAP_DMA: 'vfio_iommu_type1_dma_unmap',
  VFIO_IOMMU_SPAPR_TCE_GET_INFO: 'vfio_iommu_spapr_tce_info',
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY: 'vfio_iommu_spapr_register_memory',
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: 'vfio_iommu_spapr_register_memory',
  VFIO_IOMMU_SPAPR_TCE_CREATE: 'vfio_iommu_spapr_tce_create',
  VFIO_IOMMU_SPAPR_TCE_REMOVE: 'vfio_iommu_spapr_tce_remove',
};

/** One ioctl: a struct from `init` (argsz = sizeof), an int by value, or nothing. Returns the struct bytes after. */
export function io(ctx: Ctx, fd: string, name: IoctlName, init?: Record<string, unknown> | number): Uint8Array {
  const be = ctx.be;
  const n = ioctlNumber(name, be.arch);
  const s = structOf[name];
  if (s === undefined || typeof init === 'number' || init === undefined) {
    be.ioctl(fdOf(ctx, fd), n, init as number | undefined, { name });
    return new Uint8Array(0);
  }
  const c = codec(s, be.arch);
  const bytes = c.encode({ argsz: c.size, ...init } as never);
  be.ioctl(fdOf(ctx, fd), n, bytes, { name });
  return bytes;
}

function fdOf(ctx: Ctx, key: string): number {
  const fd = ctx.fds.get(key);
  if (fd === undefined) throw new Error(`scenario bug: no fd ${key}`);
  return fd;
}

function memOf(ctx: Ctx, key: string) {
  const m = ctx.mem.get(key);
  if (m === undefined) throw new Error(`scenario bug: no memory ${key}`);
  return m;
}

const step = (name: string, run: (ctx: Ctx) => void): Step => ({ name, run });

function intArg(ctx: Ctx, v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, ctx.be.littleEndian);
  return b;
}

const openAndAttach = (groupId: () => number): Step[] => [
  step('open container', (c) => c.fds.set('container', c.be.open('/dev/vfio/vfio'))),
  step('open group', (c) => c.fds.set('group', c.be.open(`/dev/vfio/${groupId()}`))),
  step('SET_CONTAINER', (c) =>
    c.be.ioctl(fdOf(c, 'group'), ioctlNumber('VFIO_GROUP_SET_CONTAINER', c.be.arch), intArg(c, fdOf(c, 'container'))),
  ),
];

const mmapStep = (key: string, length: number): Step =>
  step(`mmap ${key}`, (c) => {
    const sys = systemConstants(c.be.arch);
    const m = c.be.mmap({ length, prot: sys.PROT_READ | sys.PROT_WRITE });
    for (let i = 0; i < m.bytes.length; i += 97) m.bytes[i] = (i * 7 + key.length) & 0xff;
    c.mem.set(key, m);
  });

const getDevice = step('GET_DEVICE_FD', (c) => {
  const group = [...c.kernel.iommuGroups.values()].find((g) => g.devices.some((d) => d.name.length > 0));
  const edu = [...c.kernel.iommuGroups.values()]
    .flatMap((g) => g.devices)
    .find((d) => d.constructor.name === 'EduDevice');
  const name = (edu ?? group!.devices[0]!).name;
  c.fds.set(
    'device',
    c.be.ioctl(
      fdOf(c, 'group'),
      ioctlNumber('VFIO_GROUP_GET_DEVICE_FD', c.be.arch),
      new TextEncoder().encode(`${name}\0`),
    ),
  );
});

/**
 * edu DMA: RAM at `fromIova` → device buffer → RAM at `toIova`, then the bytes must match. A DMA the IOMMU blocks
 * leaves the destination unchanged, which the comparison catches.
 */
const eduRoundTrip = (fromIova: bigint, from: string, toIova: bigint, to: string, len: number): Step =>
  step(`edu DMA 0x${fromIova.toString(16)} → 0x${toIova.toString(16)}`, (c) => {
    const dev = fdOf(c, 'device');
    const big = c.kernel.profile.deviceBigEndian === true;
    const bar = BigInt(VFIO_PCI_BAR0_REGION_INDEX) << 40n;
    const w64 = (off: bigint, v: bigint) => {
      const x = new Uint8Array(8);
      new DataView(x.buffer).setBigUint64(0, v, !big);
      c.be.pwrite(dev, x, bar + off);
    };
    c.be.pwrite(dev, new Uint8Array([0x06, 0x00]), (BigInt(VFIO_PCI_CONFIG_REGION_INDEX) << 40n) + 4n);
    w64(0x80n, fromIova);
    w64(0x88n, 0x40000n);
    w64(0x90n, BigInt(len));
    w64(0x98n, 1n);
    w64(0x80n, 0x40000n);
    w64(0x88n, toIova);
    w64(0x90n, BigInt(len));
    w64(0x98n, 3n);
    const a = memOf(c, from).bytes.subarray(0, len);
    const b = memOf(c, to).bytes.subarray(0, len);
    for (let i = 0; i < len; i++)
      if (a[i] !== b[i]) throw new Error(`edu DMA did not arrive: byte ${i} is ${b[i]}, expected ${a[i]}`);
  });

const closeFd = (key: string): Step =>
  step(`close ${key}`, (c) => {
    c.be.close(fdOf(c, key));
    c.fds.delete(key);
  });

export function type1Scenario(): Scenario {
  const PAGE = 4096;
  let ctxRef: Ctx | undefined;
  const groupId = () => [...ctxRef!.kernel.vfioGroups.keys()][0]!;
  return {
    name: 'type1 map/unmap with edu DMA',
    profile: 'x86_64-q35',
    steps: [
      step('(bind)', (c) => {
        ctxRef = c;
      }),
      ...openAndAttach(groupId),
      step('SET_IOMMU type1v2', (c) => io(c, 'container', 'VFIO_SET_IOMMU', VFIO_TYPE1v2_IOMMU)),
      step('IOMMU_GET_INFO', (c) => io(c, 'container', 'VFIO_IOMMU_GET_INFO', {})),
      getDevice,
      mmapStep('a', 16 * PAGE),
      mmapStep('b', 16 * PAGE),
      step('MAP a @0x100000', (c) =>
        io(c, 'container', 'VFIO_IOMMU_MAP_DMA', {
          flags: 3,
          vaddr: memOf(c, 'a').address,
          iova: 0x100000n,
          size: BigInt(16 * PAGE),
        }),
      ),
      step('MAP b @0x200000', (c) =>
        io(c, 'container', 'VFIO_IOMMU_MAP_DMA', {
          flags: 3,
          vaddr: memOf(c, 'b').address,
          iova: 0x200000n,
          size: BigInt(16 * PAGE),
        }),
      ),
      eduRoundTrip(0x100000n, 'a', 0x200000n, 'b', 256),
      step('UNMAP a', (c) =>
        io(c, 'container', 'VFIO_IOMMU_UNMAP_DMA', { flags: 0, iova: 0x100000n, size: BigInt(16 * PAGE) }),
      ),
      step('MAP a (first half) @0x300000', (c) =>
        io(c, 'container', 'VFIO_IOMMU_MAP_DMA', {
          flags: 1,
          vaddr: memOf(c, 'a').address,
          iova: 0x300000n,
          size: BigInt(8 * PAGE),
        }),
      ),
      step('UNMAP all', (c) => io(c, 'container', 'VFIO_IOMMU_UNMAP_DMA', { flags: 2, iova: 0n, size: 0n })),
      closeFd('device'),
      step('UNSET_CONTAINER', (c) => io(c, 'group', 'VFIO_GROUP_UNSET_CONTAINER')),
      closeFd('group'),
      closeFd('container'),
    ],
  };
}

/** sPAPR v2: REGISTER, a DDW window, MAP into the default and the new window, edu DMA, then the whole teardown. */
export function spaprV2Scenario(profile: string): Scenario {
  let ctxRef: Ctx | undefined;
  const groupId = () => [...ctxRef!.kernel.vfioGroups.keys()][0]!;
  const SZ = 1 << 20;
  return {
    name: `sPAPR v2 register + create window + map + DMA + teardown (${profile})`,
    profile,
    steps: [
      step('(bind)', (c) => {
        ctxRef = c;
      }),
      ...openAndAttach(groupId),
      step('SET_IOMMU v2', (c) => io(c, 'container', 'VFIO_SET_IOMMU', VFIO_SPAPR_TCE_v2_IOMMU)),
      step('TCE_GET_INFO', (c) => io(c, 'container', 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', {})),
      getDevice,
      mmapStep('a', SZ),
      mmapStep('b', SZ),
      step('REGISTER a', (c) =>
        io(c, 'container', 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: memOf(c, 'a').address, size: BigInt(SZ) }),
      ),
      step('REGISTER b', (c) =>
        io(c, 'container', 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: memOf(c, 'b').address, size: BigInt(SZ) }),
      ),
      step('TCE_CREATE 1 GiB 4K window', (c) => {
        const out = io(c, 'container', 'VFIO_IOMMU_SPAPR_TCE_CREATE', {
          pageShift: 12,
          windowSize: 1n << 30n,
          levels: 1,
        });
        const v = codec('vfio_iommu_spapr_tce_create', c.be.arch).decode(out) as { startAddr: bigint };
        c.vals.set('ddw', v.startAddr);
      }),
      step('MAP a → default window @0x100000', (c) =>
        io(c, 'container', 'VFIO_IOMMU_MAP_DMA', {
          flags: 3,
          vaddr: memOf(c, 'a').address,
          iova: 0x100000n,
          size: BigInt(SZ),
        }),
      ),
      step('MAP b → default window @0x200000', (c) =>
        io(c, 'container', 'VFIO_IOMMU_MAP_DMA', {
          flags: 3,
          vaddr: memOf(c, 'b').address,
          iova: 0x200000n,
          size: BigInt(SZ),
        }),
      ),
      step('MAP a → new window', (c) =>
        io(c, 'container', 'VFIO_IOMMU_MAP_DMA', {
          flags: 3,
          vaddr: memOf(c, 'a').address,
          iova: c.vals.get('ddw')!,
          size: BigInt(SZ),
        }),
      ),
      eduRoundTrip(0x100000n, 'a', 0x200000n, 'b', 512),
      step('UNMAP default window', (c) =>
        io(c, 'container', 'VFIO_IOMMU_UNMAP_DMA', { flags: 0, iova: 0x100000n, size: BigInt(2 * SZ) }),
      ),
      step('UNMAP new window', (c) =>
        io(c, 'container', 'VFIO_IOMMU_UNMAP_DMA', { flags: 0, iova: c.vals.get('ddw')!, size: BigInt(SZ) }),
      ),
      step('TCE_REMOVE new window', (c) =>
        io(c, 'container', 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: c.vals.get('ddw')! }),
      ),
      step('UNREGISTER a', (c) =>
        io(c, 'container', 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', { vaddr: memOf(c, 'a').address, size: BigInt(SZ) }),
      ),
      step('UNREGISTER b', (c) =>
        io(c, 'container', 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', { vaddr: memOf(c, 'b').address, size: BigInt(SZ) }),
      ),
      closeFd('device'),
      step('UNSET_CONTAINER', (c) => io(c, 'group', 'VFIO_GROUP_UNSET_CONTAINER')),
      closeFd('group'),
      closeFd('container'),
    ],
  };
}

/** sPAPR v1: ENABLE (charges the 32-bit window), MAP (pins per page), DMA, UNMAP, DISABLE. */
export function spaprV1Scenario(profile: string): Scenario {
  let ctxRef: Ctx | undefined;
  const groupId = () => [...ctxRef!.kernel.vfioGroups.keys()][0]!;
  // Small: v1 pins page by page, and every pin is a fault site.
  const SZ = 1 << 16;
  return {
    name: `sPAPR v1 enable + map + DMA (${profile})`,
    profile,
    steps: [
      step('(bind)', (c) => {
        ctxRef = c;
      }),
      ...openAndAttach(groupId),
      step('SET_IOMMU v1', (c) => io(c, 'container', 'VFIO_SET_IOMMU', VFIO_SPAPR_TCE_IOMMU)),
      getDevice,
      mmapStep('a', SZ),
      mmapStep('b', SZ),
      step('ENABLE', (c) => io(c, 'container', 'VFIO_IOMMU_ENABLE')),
      step('MAP a @0x100000', (c) =>
        io(c, 'container', 'VFIO_IOMMU_MAP_DMA', {
          flags: 3,
          vaddr: memOf(c, 'a').address,
          iova: 0x100000n,
          size: BigInt(SZ),
        }),
      ),
      step('MAP b @0x200000', (c) =>
        io(c, 'container', 'VFIO_IOMMU_MAP_DMA', {
          flags: 3,
          vaddr: memOf(c, 'b').address,
          iova: 0x200000n,
          size: BigInt(SZ),
        }),
      ),
      eduRoundTrip(0x100000n, 'a', 0x200000n, 'b', 512),
      step('UNMAP a', (c) =>
        io(c, 'container', 'VFIO_IOMMU_UNMAP_DMA', { flags: 0, iova: 0x100000n, size: BigInt(SZ) }),
      ),
      step('DISABLE', (c) => io(c, 'container', 'VFIO_IOMMU_DISABLE')),
      closeFd('device'),
      closeFd('group'),
      closeFd('container'),
    ],
  };
}

export { isSystemError };
