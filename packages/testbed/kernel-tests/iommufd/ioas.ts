// SPDX-License-Identifier: MIT
/**
 * The iommufd IOAS path (type1-core-semantics.md §6, scenario 67), written once and run on both sides: against the
 * simulator's `x86_64-q35-6.12` profile in `npm test` (test/iommufd-ioas.test.ts) and against the real 6.12 kernel
 * of the `x86_64-6.12` guest by `npm run test:kernel`. Each case binds edu's VFIO device cdev to a fresh /dev/iommu,
 * so object ids start from the same place on both sides; expectations are the kernel's
 * (drivers/iommu/iommufd/main.c, ioas.c, io_pagetable.c, device.c).
 */
import type { Backend, Mapping } from '@vfio-ts/core';
import * as uapi from '@vfio-ts/uapi';
import { codec, type IoctlName, ioctlNumber, type StructName, systemConstants } from '@vfio-ts/uapi';
import { probeDevice } from '../../../backend-koffi/test/kernel/sequence.js';
import { defineKernelTests, expectErrno, type KernelTestContext } from '../../src/define.js';

type Arch = Parameters<typeof ioctlNumber>[1];
type Fields = Record<string, number | bigint>;

const U64_MAX = 2n ** 64n - 1n;
/** IOVAs well inside what intel-iommu's 48-bit (or 39-bit) address width allows. */
const IOVA = 0x10_0000n;

/** Encodes `init` (size/argsz = sizeof), issues the ioctl, decodes what the kernel wrote back. */
function structIoctl(backend: Backend, fd: number, name: IoctlName, struct: StructName, init: Fields = {}): Fields {
  const c = codec(struct as never, backend.arch as Arch) as unknown as {
    size: number;
    encode(v: object): Uint8Array;
    decode(b: Uint8Array): Fields;
  };
  const sizeField = struct.startsWith('iommu_') ? 'size' : 'argsz';
  const bytes = c.encode({ [sizeField]: c.size, ...init });
  backend.ioctl(fd, ioctlNumber(name, backend.arch as Arch), bytes, { name });
  return c.decode(bytes);
}

/** The ioctl with a raw buffer: for sizes and tails the codec would not produce. */
function rawIoctl(backend: Backend, fd: number, name: IoctlName, bytes: Uint8Array): number {
  return backend.ioctl(fd, ioctlNumber(name, backend.arch as Arch), bytes, { name });
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

interface Bound {
  readonly iommufd: number;
  readonly device: number;
  readonly devid: number;
  /** Closes everything this case opened or mapped, last first. */
  readonly cleanup: (() => void)[];
}

/** edu's cdev bound to a new iommufd: what every case starts from. */
function bindEdu(backend: Backend, ctx: KernelTestContext): Bound {
  const edu = ctx.devices.find((d) => d.model === 'edu') ?? ctx.devices[0];
  if (edu === undefined) return ctx.skip('no device is bound to vfio-pci');
  if (edu.cdev === undefined) {
    return ctx.skip('no VFIO device cdev on this kernel (needs CONFIG_VFIO_DEVICE_CDEV and IOMMUFD, Linux 6.6+)');
  }
  const sys = systemConstants(backend.arch as Arch);
  const cleanup: (() => void)[] = [];
  const iommufd = backend.open('/dev/iommu', sys.O_RDWR | sys.O_CLOEXEC);
  cleanup.push(() => backend.close(iommufd));
  const device = backend.open(edu.cdev, sys.O_RDWR | sys.O_CLOEXEC);
  cleanup.push(() => backend.close(device));
  const bind = structIoctl(backend, device, 'VFIO_DEVICE_BIND_IOMMUFD', 'vfio_device_bind_iommufd', { iommufd });
  return { iommufd, device, devid: Number(bind.outDevid), cleanup };
}

function release(bound: Bound): void {
  for (const fn of bound.cleanup.reverse()) fn();
}

async function withBound(
  backend: Backend,
  ctx: KernelTestContext,
  fn: (bound: Bound) => void | Promise<void>,
): Promise<void> {
  const bound = bindEdu(backend, ctx);
  try {
    await fn(bound);
  } finally {
    release(bound);
  }
}

function ioasAlloc(backend: Backend, bound: Bound): number {
  return Number(structIoctl(backend, bound.iommufd, 'IOMMU_IOAS_ALLOC', 'iommu_ioas_alloc').outIoasId);
}

function attach(backend: Backend, bound: Bound, ptId: number): number {
  const out = structIoctl(backend, bound.device, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', 'vfio_device_attach_iommufd_pt', {
    ptId,
  });
  return Number(out.ptId);
}

function memory(backend: Backend, bound: Bound, pages: number): Mapping {
  const mapping = backend.mmap({ length: pages * backend.pageSize });
  // Unmapped after the fds are closed (cleanup runs last first): never while the IOAS still maps it.
  bound.cleanup.unshift(() => backend.munmap(mapping));
  return mapping;
}

const READ_WRITE = uapi.IOMMU_IOAS_MAP_READABLE | uapi.IOMMU_IOAS_MAP_WRITEABLE;

function ioasMap(
  backend: Backend,
  bound: Bound,
  ioasId: number,
  mapping: Mapping,
  options: { iova?: bigint; flags?: number; length?: bigint } = {},
): bigint {
  const fixed = options.iova !== undefined ? uapi.IOMMU_IOAS_MAP_FIXED_IOVA : 0;
  const out = structIoctl(backend, bound.iommufd, 'IOMMU_IOAS_MAP', 'iommu_ioas_map', {
    flags: (options.flags ?? READ_WRITE) | fixed,
    ioasId,
    userVa: mapping.address,
    length: options.length ?? BigInt(mapping.length),
    iova: options.iova ?? 0n,
  });
  return out.iova as bigint;
}

function ioasUnmap(backend: Backend, bound: Bound, ioasId: number, iova: bigint, length: bigint): bigint {
  const out = structIoctl(backend, bound.iommufd, 'IOMMU_IOAS_UNMAP', 'iommu_ioas_unmap', { ioasId, iova, length });
  return out.length as bigint;
}

function destroy(backend: Backend, bound: Bound, id: number): void {
  structIoctl(backend, bound.iommufd, 'IOMMU_DESTROY', 'iommu_destroy', { id });
}

export const iommufdIoas = defineKernelTests('iommufd-ioas', {
  'IOAS_ALLOC gives a new id each time; DESTROY frees it, twice is ENOENT': (backend, ctx) =>
    withBound(backend, ctx, (b) => {
      const a = ioasAlloc(backend, b);
      const c = ioasAlloc(backend, b);
      check(a > 0 && c > 0 && a !== c, `IOAS ids ${a} and ${c}`);
      check(a !== b.devid && c !== b.devid, `an IOAS id (${a}, ${c}) equals the device's ${b.devid}`);
      destroy(backend, b, a);
      return expectErrno('ENOENT', 'DESTROY of a destroyed IOAS', () => destroy(backend, b, a));
    }),

  'IOAS_ALLOC: flags -> EOPNOTSUPP, size below the minimum -> EINVAL, non-zero tail -> E2BIG, zero tail -> ok': (
    backend,
    ctx,
  ) =>
    withBound(backend, ctx, async (b) => {
      await expectErrno('EOPNOTSUPP', 'IOAS_ALLOC with flags 1', () =>
        structIoctl(backend, b.iommufd, 'IOMMU_IOAS_ALLOC', 'iommu_ioas_alloc', { flags: 1 }),
      );
      const c = codec('iommu_ioas_alloc', backend.arch as Arch);
      const short = c.encode({ size: 8 });
      await expectErrno('EINVAL', 'IOAS_ALLOC with size 8', () =>
        rawIoctl(backend, b.iommufd, 'IOMMU_IOAS_ALLOC', short),
      );
      // A caller built against a newer header: bigger size, the kernel checks the bytes it does not know are 0.
      const bigger = new Uint8Array(c.size + 8);
      bigger.set(c.encode({ size: c.size + 8 }));
      bigger[c.size + 3] = 1;
      await expectErrno('E2BIG', 'IOAS_ALLOC with a non-zero tail', () =>
        rawIoctl(backend, b.iommufd, 'IOMMU_IOAS_ALLOC', bigger),
      );
      bigger[c.size + 3] = 0;
      rawIoctl(backend, b.iommufd, 'IOMMU_IOAS_ALLOC', bigger);
      check(c.decode(bigger).outIoasId > 0, 'IOAS_ALLOC with a zeroed tail wrote no id');
    }),

  'ATTACH_IOMMUFD_PT to an IOAS writes back the id of the HWPT it created; the IOAS is then busy': (backend, ctx) =>
    withBound(backend, ctx, async (b) => {
      const ioas = ioasAlloc(backend, b);
      const hwpt = attach(backend, b, ioas);
      check(hwpt > 0 && hwpt !== ioas && hwpt !== b.devid, `pt_id ${hwpt} after attaching to IOAS ${ioas}`);
      await expectErrno('EBUSY', 'DESTROY of an IOAS a device is attached to', () => destroy(backend, b, ioas));
      structIoctl(backend, b.device, 'VFIO_DEVICE_DETACH_IOMMUFD_PT', 'vfio_device_detach_iommufd_pt');
      // The automatic HWPT goes away with the last detach; the IOAS is free again.
      await expectErrno('ENOENT', 'DESTROY of the automatic HWPT after detach', () => destroy(backend, b, hwpt));
      destroy(backend, b, ioas);
    }),

  'ATTACH_IOMMUFD_PT: unknown id -> ENOENT, a device id -> EINVAL': (backend, ctx) =>
    withBound(backend, ctx, async (b) => {
      await expectErrno('ENOENT', 'ATTACH to id 9999', () => attach(backend, b, 9999));
      await expectErrno('EINVAL', 'ATTACH to the device object', () => attach(backend, b, b.devid));
    }),

  'IOAS_MAP FIXED over an existing mapping -> EEXIST (scenario 67)': (backend, ctx) =>
    withBound(backend, ctx, async (b) => {
      const ioas = ioasAlloc(backend, b);
      attach(backend, b, ioas);
      const mem = memory(backend, b, 2);
      check(ioasMap(backend, b, ioas, mem, { iova: IOVA }) === IOVA, 'FIXED map moved the IOVA');
      const page = BigInt(backend.pageSize);
      await expectErrno('EEXIST', 'FIXED map over the second page', () =>
        ioasMap(backend, b, ioas, mem, { iova: IOVA + page, length: page }),
      );
      await expectErrno('EEXIST', 'FIXED map ending in the first page', () =>
        ioasMap(backend, b, ioas, mem, { iova: IOVA - page, length: 2n * page }),
      );
    }),

  'IOAS_UNMAP: part of a mapping -> ENOENT, nothing mapped -> ENOENT, exact -> the bytes (scenario 67)': (
    backend,
    ctx,
  ) =>
    withBound(backend, ctx, async (b) => {
      const ioas = ioasAlloc(backend, b);
      attach(backend, b, ioas);
      const mem = memory(backend, b, 2);
      const page = BigInt(backend.pageSize);
      ioasMap(backend, b, ioas, mem, { iova: IOVA });
      await expectErrno('ENOENT', 'UNMAP of the first page of a two-page mapping', () =>
        ioasUnmap(backend, b, ioas, IOVA, page),
      );
      await expectErrno('ENOENT', 'UNMAP where nothing is mapped', () =>
        ioasUnmap(backend, b, ioas, IOVA + 16n * page, page),
      );
      const unmapped = ioasUnmap(backend, b, ioas, IOVA, 2n * page);
      check(unmapped === 2n * page, `UNMAP returned ${unmapped} bytes, want ${2n * page}`);
    }),

  'IOAS_UNMAP 0..U64_MAX removes every mapping and returns their bytes; on an empty IOAS it returns 0': (
    backend,
    ctx,
  ) =>
    withBound(backend, ctx, async (b) => {
      const ioas = ioasAlloc(backend, b);
      attach(backend, b, ioas);
      const page = BigInt(backend.pageSize);
      const one = memory(backend, b, 1);
      const three = memory(backend, b, 3);
      ioasMap(backend, b, ioas, one, { iova: IOVA });
      ioasMap(backend, b, ioas, three, { iova: IOVA + 64n * page });
      const all = ioasUnmap(backend, b, ioas, 0n, U64_MAX);
      check(all === 4n * page, `UNMAP all returned ${all} bytes, want ${4n * page}`);
      await expectErrno('ENOENT', 'UNMAP of a range UNMAP all removed', () => ioasUnmap(backend, b, ioas, IOVA, page));
      const again = ioasUnmap(backend, b, ioas, 0n, U64_MAX);
      check(again === 0n, `UNMAP all of an empty IOAS returned ${again} bytes`);
      // Everything is free again: the same IOVA maps.
      ioasMap(backend, b, ioas, one, { iova: IOVA });
    }),

  'IOAS_MAP without FIXED_IOVA: the kernel picks a page-aligned IOVA and writes it back': (backend, ctx) =>
    withBound(backend, ctx, async (b) => {
      const ioas = ioasAlloc(backend, b);
      attach(backend, b, ioas);
      const mem = memory(backend, b, 2);
      const iova = ioasMap(backend, b, ioas, mem);
      check(iova % BigInt(backend.pageSize) === 0n, `kernel-chosen IOVA 0x${iova.toString(16)} is not page aligned`);
      await expectErrno('EEXIST', 'FIXED map at the IOVA the kernel chose', () =>
        ioasMap(backend, b, ioas, mem, { iova }),
      );
      const second = ioasMap(backend, b, ioas, mem);
      check(
        second + BigInt(mem.length) <= iova || second >= iova + BigInt(mem.length),
        `second kernel-chosen IOVA 0x${second.toString(16)} overlaps the first at 0x${iova.toString(16)}`,
      );
    }),

  'IOAS_MAP bad arguments: no permission -> EINVAL, unknown flag or reserved -> EOPNOTSUPP, unknown IOAS -> ENOENT, unaligned -> EINVAL':
    (backend, ctx) =>
      withBound(backend, ctx, async (b) => {
        const ioas = ioasAlloc(backend, b);
        attach(backend, b, ioas);
        const mem = memory(backend, b, 1);
        const map = (init: Fields) =>
          structIoctl(backend, b.iommufd, 'IOMMU_IOAS_MAP', 'iommu_ioas_map', {
            flags: READ_WRITE | uapi.IOMMU_IOAS_MAP_FIXED_IOVA,
            ioasId: ioas,
            userVa: mem.address,
            length: BigInt(mem.length),
            iova: IOVA,
            ...init,
          });
        await expectErrno('EINVAL', 'MAP neither readable nor writeable', () =>
          map({ flags: uapi.IOMMU_IOAS_MAP_FIXED_IOVA }),
        );
        await expectErrno('EOPNOTSUPP', 'MAP with an unknown flag', () => map({ flags: READ_WRITE | 0x100 }));
        await expectErrno('EOPNOTSUPP', 'MAP with __reserved set', () => map({ reserved: 1 }));
        await expectErrno('ENOENT', 'MAP into IOAS 9999', () => map({ ioasId: 9999 }));
        await expectErrno('ENOENT', 'MAP into the device object', () => map({ ioasId: b.devid }));
        await expectErrno('EINVAL', 'MAP at an unaligned IOVA', () => map({ iova: IOVA + 0x10n }));
        await expectErrno('EINVAL', 'MAP of length 0', () => map({ length: 0n }));
        // Nothing above left a mapping behind.
        map({});
      }),

  'IOAS_MAP with no device attached pins nothing: a writeable map of read-only memory maps, the ATTACH that pins it -> EFAULT':
    (backend, ctx) =>
      withBound(backend, ctx, async (b) => {
        const ioas = ioasAlloc(backend, b);
        const sys = systemConstants(backend.arch as Arch);
        // Read-only memory, mapped for device writes: only a domain makes the kernel pin (FOLL_WRITE) and so refuse it.
        // (An unmapped VA would not do on a real process: node reuses freed address space at once.)
        const ro = backend.mmap({ length: 2 * backend.pageSize, prot: sys.PROT_READ });
        b.cleanup.unshift(() => backend.munmap(ro));
        ioasMap(backend, b, ioas, ro, { iova: IOVA });
        await expectErrno('EFAULT', 'ATTACH to an IOAS mapping read-only memory writeable', () =>
          attach(backend, b, ioas),
        );
        ioasUnmap(backend, b, ioas, IOVA, BigInt(ro.length));
        attach(backend, b, ioas);
      }),

  'IOAS_IOVA_RANGES: all of IOVA space, alignment 1 while empty; 4 KiB alignment and the MSI window cut out once attached':
    (backend, ctx) =>
      withBound(backend, ctx, async (b) => {
        const ioas = ioasAlloc(backend, b);
        const out = memory(backend, b, 1);
        const range = codec('iommu_iova_range', backend.arch as Arch);
        const ranges = (): { alignment: bigint; list: { start: bigint; last: bigint }[] } => {
          const r = structIoctl(backend, b.iommufd, 'IOMMU_IOAS_IOVA_RANGES', 'iommu_ioas_iova_ranges', {
            ioasId: ioas,
            numIovas: 8,
            allowedIovas: out.address,
          });
          const n = Number(r.numIovas);
          check(n >= 1 && n <= 8, `IOVA_RANGES reports ${n} ranges`);
          const list = Array.from({ length: n }, (_, i) =>
            range.decode(out.bytes.slice(i * range.size, (i + 1) * range.size)),
          );
          return { alignment: r.outIovaAlignment as bigint, list };
        };
        const empty = ranges();
        check(
          empty.alignment === 1n &&
            empty.list.length === 1 &&
            empty.list[0]!.start === 0n &&
            empty.list[0]!.last === U64_MAX,
          `fresh IOAS: alignment ${empty.alignment}, ranges ${JSON.stringify(empty.list, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`,
        );
        attach(backend, b, ioas);
        const attached = ranges();
        check(attached.alignment === BigInt(backend.pageSize), `attached IOAS alignment ${attached.alignment}`);
        // x86's interrupt window (0xfee00000, IOMMU_RESV_MSI) is reserved once an intel-iommu domain is attached.
        const msi = 0xfee0_0000n;
        check(
          attached.list.every((r) => msi < r.start || msi > r.last),
          `the MSI window is inside an allowed range: ${attached.list.map((r) => `0x${r.start.toString(16)}-0x${r.last.toString(16)}`).join(', ')}`,
        );
        await expectErrno('EMSGSIZE', 'IOVA_RANGES with room for none', () =>
          structIoctl(backend, b.iommufd, 'IOMMU_IOAS_IOVA_RANGES', 'iommu_ioas_iova_ranges', {
            ioasId: ioas,
            numIovas: 0,
            allowedIovas: out.address,
          }),
        );
      }),

  'DESTROY of the bound device object -> EBUSY': (backend, ctx) =>
    withBound(backend, ctx, async (b) => {
      await expectErrno('EBUSY', 'DESTROY of the device object while bound', () => destroy(backend, b, b.devid));
    }),

  'DMA through the IOAS: edu copies RAM -> device -> RAM at an IOAS_MAP IOVA; after UNMAP it is blocked': {
    timeoutMs: 120_000,
    run: (backend, ctx) =>
      withBound(backend, ctx, async (b) => {
        const ioas = ioasAlloc(backend, b);
        attach(backend, b, ioas);
        const edu = probeDevice(backend, b.device);
        const mem = memory(backend, b, 1);
        ioasMap(backend, b, ioas, mem, { iova: IOVA });
        const data = Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + 3) & 0xff);
        mem.bytes.set(data);
        await edu.dma('to-device', IOVA, 256);
        mem.bytes.fill(0);
        await edu.dma('to-ram', IOVA + 1024n, 256);
        const back = mem.bytes.subarray(1024, 1024 + 256);
        check(
          back.every((x, i) => x === data[i]),
          'edu DMA through the IOAS returned other bytes',
        );
        ioasUnmap(backend, b, ioas, IOVA, BigInt(mem.length));
        mem.bytes.fill(0);
        await edu.dma('to-ram', IOVA, 256);
        check(
          mem.bytes.subarray(0, 256).every((x) => x === 0),
          'edu DMA to an unmapped IOVA reached memory',
        );
      }),
  },
});
