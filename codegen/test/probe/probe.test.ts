// SPDX-License-Identifier: MIT
/**
 * The probe against the vendored 6.1 header, checked with numbers published independently of this code (syzkaller's
 * dev_vfio.txt.const, the kernel's asm/ioctl.h encodings, glibc's headers) rather than with its own output.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { clearToolchainCache } from '../../src/probe/abis.js';
import {
  ABI_NAMES,
  type AbiLayouts,
  type AbiName,
  LINUX_ERRNO_NAMES,
  ProbeError,
  probeLayouts,
  resolveToolchain,
} from '../../src/probe/index.js';
import { needAbi, toolchains } from './toolchains.js';

const headerDir = fileURLToPath(new URL('../../../spec/vendor/linux-6.1.176-1', import.meta.url));

const request = {
  headerDir,
  structs: [
    {
      name: 'vfio_iommu_spapr_tce_create',
      members: ['argsz', 'flags', 'page_shift', '__resv1', 'window_size', 'levels', '__resv2', 'start_addr'].map(
        (name) => ({ name }),
      ),
    },
    {
      name: 'vfio_iommu_type1_info',
      members: ['argsz', 'flags', 'iova_pgsizes', 'cap_offset'].map((name) => ({ name })),
    },
    {
      name: 'vfio_region_info_cap_sparse_mmap',
      members: [{ name: 'header' }, { name: 'nr_areas' }, { name: 'reserved' }, { name: 'areas', flexible: true }],
    },
    {
      name: 'vfio_device_gfx_plane_info',
      members: [{ name: 'y_hot' }, { name: 'region_index' }, { name: 'dmabuf_id' }],
    },
  ],
  constants: ['VFIO_API_VERSION', 'VFIO_SPAPR_TCE_v2_IOMMU'],
  ioctls: ['VFIO_GET_API_VERSION', 'VFIO_IOMMU_SPAPR_TCE_CREATE'],
  system: [
    ...LINUX_ERRNO_NAMES.map((name) => ({ name, include: 'errno.h' })),
    { name: 'AT_FDCWD', include: 'fcntl.h' },
    { name: 'O_CLOEXEC', include: 'fcntl.h' },
    { name: 'RLIM_INFINITY', include: 'sys/resource.h' },
  ],
};

const powerpc = (abi: AbiName) => abi === 'ppc64le' || abi === 'ppc64';

let layouts: AbiLayouts = {};
beforeAll(async () => {
  if (toolchains.available.length > 0) layouts = await probeLayouts({ ...request, abis: toolchains.available });
});

describe.each(ABI_NAMES)('probe of linux 6.1 vfio.h on %s', (abi) => {
  const l = () => layouts[abi]!;

  test('ABI basics', (ctx) => {
    needAbi(ctx, abi);
    expect(l().littleEndian).toBe(abi !== 'ppc64');
    expect(l().pointerSize).toBe(abi === 'i386' ? 4 : 8);
    expect(l().compiler).toMatch(/gcc|clang/);
  });

  test('ioctl numbers: _IO is 0x2000xxxx on powerpc (_IOC_NONE = 1)', (ctx) => {
    needAbi(ctx, abi);
    expect(l().ioctls.VFIO_GET_API_VERSION).toBe(powerpc(abi) ? 536886116 : 15204);
    expect(l().ioctls.VFIO_IOMMU_SPAPR_TCE_CREATE).toBe(powerpc(abi) ? 0x20003b77 : 0x3b77);
  });

  test('struct layouts: i386 aligns __u64 to 4', (ctx) => {
    needAbi(ctx, abi);
    const create = l().structs.vfio_iommu_spapr_tce_create!;
    expect(create.size).toBe(40);
    expect(create.align).toBe(abi === 'i386' ? 4 : 8);
    expect(create.members.window_size).toEqual({ offset: 16, size: 8 });
    expect(create.members.start_addr).toEqual({ offset: 32, size: 8 });
    const info = l().structs.vfio_iommu_type1_info!;
    expect([info.size, info.align]).toEqual(abi === 'i386' ? [20, 4] : [24, 8]);
    expect(info.members.cap_offset).toEqual({ offset: 16, size: 4 });
  });

  test('a flexible member reports its element size; anonymous-union members share an offset', (ctx) => {
    needAbi(ctx, abi);
    const sparse = l().structs.vfio_region_info_cap_sparse_mmap!;
    expect(sparse.members.areas).toEqual({ offset: 16, size: 16 });
    const gfx = l().structs.vfio_device_gfx_plane_info!;
    expect(gfx.members.region_index!.offset).toBe(gfx.members.y_hot!.offset + 4);
    expect(gfx.members.dmabuf_id).toEqual(gfx.members.region_index);
  });

  test('constants and system values, sign-correct', (ctx) => {
    needAbi(ctx, abi);
    expect(l().constants).toEqual({ VFIO_API_VERSION: '0', VFIO_SPAPR_TCE_v2_IOMMU: '7' });
    expect(l().system.EDEADLOCK).toBe(powerpc(abi) ? '58' : '35');
    expect(l().system.EDEADLK).toBe('35');
    expect(l().system.EAGAIN).toBe('11');
    expect(l().system.AT_FDCWD).toBe('-100');
    expect(l().system.RLIM_INFINITY).toBe(abi === 'i386' ? '4294967295' : '18446744073709551615');
    expect(Object.keys(l().system)).toHaveLength(request.system.length);
  });
});

describe('probe errors', () => {
  test('a name the header does not define fails the compile and is named in the error', async (ctx) => {
    needAbi(ctx, 'x86_64');
    const error = await probeLayouts({ ...request, constants: ['VFIO_NO_SUCH_THING'], abis: ['x86_64'] }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProbeError);
    expect(error).toMatchObject({ code: 'VFIO_TS_PROBE_COMPILE_FAILED' });
    expect((error as Error).message).toMatch(/offending entries: VFIO_NO_SUCH_THING/);
  });

  test('a flexible member not marked flexible is named, not mis-measured', async (ctx) => {
    needAbi(ctx, 'x86_64');
    const structs = [{ name: 'vfio_region_info_cap_sparse_mmap', members: [{ name: 'areas' }] }];
    await expect(probeLayouts({ ...request, structs, abis: ['x86_64'] })).rejects.toThrow(
      /offending entries: struct vfio_region_info_cap_sparse_mmap\.areas/,
    );
  });

  test('a headerDir without linux/vfio.h is refused rather than falling back to the sysroot header', async () => {
    await expect(probeLayouts({ ...request, headerDir: '/nonexistent' })).rejects.toMatchObject({
      code: 'VFIO_TS_VENDOR',
    });
  });

  test('names that are not C identifiers never reach the compiler', async () => {
    await expect(probeLayouts({ ...request, constants: ['1); system("x'] })).rejects.toThrow(/not a C identifier/);
  });

  test('a missing compiler names the Debian packages to install', async () => {
    const path = process.env.PATH;
    clearToolchainCache();
    process.env.PATH = '/nonexistent';
    try {
      const error = await resolveToolchain('ppc64').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'VFIO_TS_PROBE_TOOLCHAIN_MISSING' });
      expect((error as Error).message).toContain('gcc-powerpc64-linux-gnu libc6-dev-ppc64-cross');
    } finally {
      process.env.PATH = path;
      clearToolchainCache();
    }
  });
});

describe('LINUX_ERRNO_NAMES', () => {
  for (const abi of ABI_NAMES) {
    test(`is exactly the E* macros of <errno.h> on ${abi}`, async (ctx) => {
      needAbi(ctx, abi);
      const tc = await resolveToolchain(abi);
      const macros = execFileSync(tc.compiler, [...tc.args, '-dM', '-E', '-x', 'c', '-'], {
        input: '#include <errno.h>\n',
        encoding: 'utf8',
      });
      const defined = [...macros.matchAll(/^#define (E[A-Z0-9]+) /gm)].map((m) => m[1]!);
      expect([...LINUX_ERRNO_NAMES].sort()).toEqual([...new Set(defined)].sort());
    });
  }
});
