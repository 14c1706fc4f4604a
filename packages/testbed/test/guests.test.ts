// SPDX-License-Identifier: MIT
// Boots real guests: gated by VFIO_TS_QEMU=1 because each boot costs 10–30 s of TCG on shared CPUs.
import { describe, expect, it } from 'vitest';
import { TestbedError } from '../src/errors.js';
import { runKernelTests } from '../src/kernel-run.js';
import { kernelTestModules } from '../src/kernel-tests.js';
import type { GuestArch } from '../src/paths.js';
import { summarize } from '../src/results.js';
import { runInGuest } from '../src/run.js';

const enabled = process.env.VFIO_TS_QEMU === '1';
const gate = 'set VFIO_TS_QEMU=1 to boot QEMU guests (needs .ci/testbed-deps.sh; about 10-30 s per boot)';
const own = kernelTestModules.filter((m) => m.name === 'testbed-smoke' || m.name === 'container-basics');

describe.each<GuestArch>(['x86_64', 'ppc64le'])('%s guest', (arch) => {
  it('boots, binds edu and e1000 to vfio-pci, and passes the smoke and container-basics cases', {
    timeout: 900_000,
  }, async (t) => {
    if (!enabled) t.skip(gate);
    const run = await runKernelTests({ arch, modules: own });
    const s = summarize(run.results);
    expect(run.results.complete).toBe(true);
    expect(s).toMatchObject({ failed: 0, interrupted: 0 });
    expect(s.passed).toBe(run.results.suites.reduce((n, suite) => n + suite.tests.length, 0));
    expect(run.devices.map((d) => d.model).sort()).toEqual(['e1000', 'edu']);
    expect(run.iommu.vfioDriver).toBe(arch === 'x86_64' ? 'vfio_iommu_type1' : 'vfio_iommu_spapr_tce');
    console.log(`${arch}: ${run.kernelVersion}, boot ${run.timings.bootMs} ms, total ${run.timings.totalMs} ms`);
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
