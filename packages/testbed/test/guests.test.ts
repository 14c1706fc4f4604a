// SPDX-License-Identifier: MIT
// The guests' recipes (plain unit tests), then real boots: gated by VFIO_TS_QEMU=1 because each boot costs
// 10–60 s of TCG on shared CPUs.
import { profiles } from '@vfio-ts/backend-sim';
import { describe, expect, it } from 'vitest';
import { TestbedError } from '../src/errors.js';
import {
  type GuestName,
  guestArch,
  guestNames,
  guests,
  isGuestName,
  parseGuestList,
  resolveGuest,
} from '../src/guests.js';
import { runKernelTests } from '../src/kernel-run.js';
import { kernelTestModules, moduleNotInGuest, planBoots, planGuestModules } from '../src/kernel-tests.js';
import { privateAptDir } from '../src/provision.js';
import { qemuCommand } from '../src/qemu.js';
import { configDefines, rebuildPackages } from '../src/rebuild.js';
import { summarize } from '../src/results.js';
import { earlyCrash, runInGuest } from '../src/run.js';

describe('guest names', () => {
  it('an architecture names its first guest; x86_64-6.12 is an x86_64 guest of its own', () => {
    expect(guestNames).toEqual(['x86_64', 'ppc64le', 'x86_64-6.12']);
    expect(resolveGuest({ arch: 'x86_64' })).toBe('x86_64');
    expect(resolveGuest({ arch: 'ppc64le' })).toBe('ppc64le');
    expect(resolveGuest({ guest: 'x86_64-6.12' })).toBe('x86_64-6.12');
    expect(resolveGuest({ guest: 'x86_64-6.12', arch: 'x86_64' })).toBe('x86_64-6.12');
    expect(guestArch('x86_64-6.12')).toBe('x86_64');
    expect(isGuestName('x86_64-6.12')).toBe(true);
    expect(isGuestName('x86_64-6.1')).toBe(false);
  });

  it('refuses unknown or contradictory names, naming the guests there are', () => {
    expect(() => resolveGuest({ guest: 'x86_64-6.12', arch: 'ppc64le' })).toThrow(/is x86_64, not ppc64le/);
    expect(() => resolveGuest({})).toThrow(TestbedError);
    expect(() => parseGuestList('x86_64,arm64')).toThrow(/unknown guest 'arm64' \(have x86_64, ppc64le, x86_64-6.12\)/);
    expect(() => parseGuestList(' , ')).toThrow(/empty/);
  });

  it('parses --guest/--arch lists: all guests by default, each named one once, in the order given', () => {
    expect(parseGuestList(undefined)).toEqual(['x86_64', 'ppc64le', 'x86_64-6.12']);
    expect(parseGuestList('x86_64-6.12, x86_64,x86_64-6.12')).toEqual(['x86_64-6.12', 'x86_64']);
  });
});

describe('guest recipes', () => {
  it('x86_64-6.12: bookworm-backports linux-image-amd64 through a private apt, iommufd in the initramfs', () => {
    const spec = guests['x86_64-6.12'];
    expect(spec.arch).toBe('x86_64');
    expect(spec.kernel).toMatchObject({
      meta: 'linux-image-amd64',
      suite: 'bookworm-backports',
      aptSuites: ['bookworm', 'bookworm-backports'],
    });
    expect(spec.kernel.file.test('vmlinuz-6.12.95+deb12-amd64')).toBe(true);
    expect(spec.kernel.modules).toEqual(
      expect.arrayContaining(['virtio_pci', '9pnet_virtio', '9p', 'vfio_pci', 'vfio_iommu_type1', 'iommufd']),
    );
    // Debian's amd64 kernels have CONFIG_IOMMUFD off: VFIO and iommufd are rebuilt from the same source.
    expect(spec.kernel.rebuild).toMatchObject({ flavour: 'amd64', config: { IOMMUFD: 'm', VFIO_DEVICE_CDEV: 'y' } });
    expect(spec.cdev).toBe(true);
    expect(spec.simProfile).toBe('x86_64-q35-6.12');
  });

  it('the first two guests keep their kernels: 6.1 from the host apt, ppc64le 6.12 from bookworm-backports', () => {
    expect(guests.x86_64.kernel).toMatchObject({ meta: 'linux-image-amd64', modules: expect.any(Array) });
    expect(guests.x86_64.kernel.aptSuites).toBeUndefined();
    expect(guests.x86_64.kernel.suite).toBeUndefined();
    expect(guests.x86_64.kernel.rebuild).toBeUndefined();
    expect(guests.ppc64le.kernel).toMatchObject({ meta: 'linux-image-powerpc64le', suite: 'bookworm-backports' });
    expect(guests.ppc64le.kernel.modules).toContain('vfio_iommu_spapr_tce');
    expect([guests.x86_64.cdev, guests.ppc64le.cdev]).toEqual([false, false]);
  });

  it('every guest is modelled by a simulator profile', () => {
    for (const name of guestNames) expect(profiles[guests[name].simProfile], name).toBeDefined();
  });

  it('x86_64-6.12 boots the same q35 + interrupt-remapping intel-iommu machine as x86_64', () => {
    const base = { kernel: '/k', initrd: '/i', rootDir: '/', runDir: '/run', devices: ['edu', 'e1000'] as const };
    const a = qemuCommand({ arch: guestArch('x86_64'), ...base });
    const b = qemuCommand({ arch: guestArch('x86_64-6.12'), ...base });
    expect(b).toEqual(a);
    expect(b.args).toContain('intel-iommu,intremap=on');
  });

  it('each guest caches under its own directory; private apt configurations are per architecture and suites', () => {
    expect(privateAptDir('/c', 'ppc64el', ['bookworm', 'bookworm-backports'])).toBe('/c/apt-ppc64el');
    expect(privateAptDir('/c', 'amd64', ['bookworm', 'bookworm-backports'])).toBe('/c/apt-amd64');
    expect(privateAptDir('/c', 'amd64', ['trixie'])).toBe('/c/apt-amd64-trixie');
  });

  it('the rebuild takes headers, kbuild and source of exactly the image package version', () => {
    expect(rebuildPackages('6.12.95+deb12-amd64', 'amd64', '6.12.95-1~bpo12+1')).toEqual([
      'linux-headers-6.12.95+deb12-amd64=6.12.95-1~bpo12+1',
      'linux-headers-6.12.95+deb12-common=6.12.95-1~bpo12+1',
      'linux-kbuild-6.12.95+deb12=6.12.95-1~bpo12+1',
      'linux-source-6.12=6.12.95-1~bpo12+1',
    ]);
    expect(() => rebuildPackages('6.12.95+deb12-cloud-amd64', 'rt-amd64', '1')).toThrow(/not of the rt-amd64/);
    expect(configDefines({ IOMMUFD: 'm', VFIO_DEVICE_CDEV: 'y' })).toEqual([
      '-DCONFIG_IOMMUFD_MODULE=1',
      '-DCONFIG_VFIO_DEVICE_CDEV=1',
    ]);
  });
});

describe('which modules run in which guest', () => {
  const names = (ms: readonly { name: string }[]): string[] => ms.map((m) => m.name);

  it('x86_64-6.12: a shared boot with the cdev suite, then conformance-differential; faults reported as not run', () => {
    const plan = planGuestModules(kernelTestModules, 'x86_64-6.12', undefined);
    const boots = planBoots(plan.run).map(names);
    expect(boots).toHaveLength(2);
    expect(boots[0]).toEqual(expect.arrayContaining(['testbed-smoke', 'container-basics', 'cdev']));
    expect(boots[1]).toEqual(['conformance-differential']);
    expect(plan.notRun.map((n) => [n.module.name, n.reason])).toEqual([
      ['faults', 'registered for x86_64, ppc64le only'],
    ]);
  });

  it('the first two guests run everything, cdev included (its cases skip there, saying why)', () => {
    for (const guest of ['x86_64', 'ppc64le'] as const) {
      const plan = planGuestModules(kernelTestModules, guest, undefined);
      expect(plan.notRun).toEqual([]);
      expect(names(plan.run)).toContain('cdev');
    }
  });

  it('--filter naming a module runs it whole where it is registered and says where it is not', () => {
    const inNew = planGuestModules(kernelTestModules, 'x86_64-6.12', 'faults');
    expect(inNew.run).toEqual([]);
    expect(names(inNew.notRun.map((n) => n.module))).toEqual(['faults']);
    const inOld = planGuestModules(kernelTestModules, 'x86_64', 'faults');
    expect(names(inOld.run)).toEqual(['faults']);
    expect(inOld.caseFilter).toBeUndefined();
    expect(names(planGuestModules(kernelTestModules, 'x86_64-6.12', 'cdev').run)).toEqual(['cdev']);
  });

  it('any other --filter selects cases inside every module of the guest', () => {
    const plan = planGuestModules(kernelTestModules, 'x86_64-6.12', 'BIND');
    expect(plan.caseFilter).toBe('BIND');
    expect(plan.run.length).toBeGreaterThan(3);
  });

  it('arches restricts by architecture, guests by guest', () => {
    const m = { name: 'x', path: '/x.ts' };
    expect(moduleNotInGuest({ ...m, arches: ['x86_64'] }, 'x86_64-6.12')).toBeUndefined();
    expect(moduleNotInGuest({ ...m, arches: ['x86_64'] }, 'ppc64le')).toBe('registered for x86_64 only');
    expect(moduleNotInGuest({ ...m, guests: ['x86_64-6.12'] }, 'x86_64')).toBe('registered for x86_64-6.12 only');
  });
});

const enabled = process.env.VFIO_TS_QEMU === '1';
const gate = 'set VFIO_TS_QEMU=1 to boot QEMU guests (needs .ci/testbed-deps.sh; about 10-60 s per boot)';
const own = kernelTestModules.filter((m) => ['testbed-smoke', 'container-basics', 'cdev'].includes(m.name));

describe.each<GuestName>(['x86_64', 'ppc64le', 'x86_64-6.12'])('%s guest', (guest) => {
  it('boots, binds edu and e1000 to vfio-pci, passes smoke and container-basics, and cdev where it exists', {
    timeout: 900_000,
  }, async (t) => {
    if (!enabled) t.skip(gate);
    const run = await runKernelTests({ guest, modules: own });
    const s = summarize(run.results);
    expect(run.results.complete).toBe(true);
    expect(s).toMatchObject({ failed: 0, interrupted: 0 });
    for (const suite of run.results.suites) {
      const statuses = new Set(suite.tests.map((c) => c.status));
      // The cdev cases pass where the guest has the cdev and are skipped (with the reason) everywhere else.
      const want = suite.name === 'cdev' && !guests[guest].cdev ? 'skipped' : 'passed';
      expect([...statuses], suite.name).toEqual([want]);
      if (want === 'skipped') for (const c of suite.tests) expect(c.reason).toMatch(/no VFIO device cdev/);
    }
    expect(run.devices.map((d) => d.model).sort()).toEqual(['e1000', 'edu']);
    expect(run.iommu.vfioDriver).toBe(guestArch(guest) === 'x86_64' ? 'vfio_iommu_type1' : 'vfio_iommu_spapr_tce');
    expect(run.guestName).toBe(guest);
    console.log(`${guest}: ${run.kernelVersion}, boot ${run.timings.bootMs} ms, total ${run.timings.totalMs} ms`);
  });
});

describe('a kernel crash before the tests is booted again, once, and reported', () => {
  // From a real x86_64-6.12 boot (1 in about 50 under TCG): QEMU's cross-modifying code, before any module loaded.
  const crashed = [
    '[    1.261155] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\r',
    '[    1.261756] RIP: 0010:enqueue_timer+0xa5/0x100\r',
    '[    1.264280] Kernel panic - not syncing: Fatal exception in interrupt\r',
  ].join('\n');

  it('an oops before the ready marker is an early crash, named by its first lines', () => {
    expect(earlyCrash({ console: crashed, readyAt: undefined })).toBe(
      'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI, RIP: 0010:enqueue_timer+0xa5/0x100',
    );
  });

  it('never once the tests may have started, nor for a panic that is no oops (no init, no root)', () => {
    expect(earlyCrash({ console: crashed, readyAt: 1 })).toBeUndefined();
    const noInit = 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)';
    expect(earlyCrash({ console: noInit, readyAt: undefined })).toBeUndefined();
  });
});

describe('guest failures are reported with the console', () => {
  it('a kernel that cannot start init is a boot error naming the panic', { timeout: 300_000 }, async (t) => {
    if (!enabled) t.skip(gate);
    const error = await runInGuest({
      arch: 'x86_64',
      entry: { contents: 'process.exit(0);', resolveDir: import.meta.dirname },
      append: ['rdinit=/no-such-init'],
      timeoutMs: 120_000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestbedError);
    expect((error as TestbedError).code).toBe('VFIO_TS_TESTBED_BOOT');
    expect((error as TestbedError).message).toMatch(/Kernel panic/);
    // Without an init in the initramfs the kernel falls back to mounting a root device, and there is none.
    expect((error as TestbedError).consoleTail).toMatch(/Kernel panic - not syncing: VFS: Unable to mount root fs/);
  });

  it('an entry that hangs ends in a timeout error, not a hung test run', { timeout: 300_000 }, async (t) => {
    if (!enabled) t.skip(gate);
    const error = await runInGuest({
      arch: 'x86_64',
      entry: {
        contents: "console.log('about to hang');\nsetInterval(() => {}, 1000);",
        resolveDir: import.meta.dirname,
      },
      timeoutMs: 45_000,
    }).catch((e: unknown) => e);
    expect((error as TestbedError).code).toBe('VFIO_TS_TESTBED_TIMEOUT');
    expect((error as TestbedError).message).toMatch(/while the entry was running/);
    expect((error as TestbedError).consoleTail).toMatch(/about to hang/);
  });
});
