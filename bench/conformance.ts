// SPDX-License-Identifier: MIT
/**
 * The whole @vfio-ts/conformance suite on the simulator (a fresh simulated kernel per scenario, as `npm test` runs
 * it) against the same suite in the real guests (the testbed's `conformance` kernel-test module through the koffi
 * backend). The guest half boots QEMU (minutes under TCG, one QEMU at a time on shared machines), so it runs only
 * with VFIO_TS_QEMU=1; otherwise the table says why it is missing. The ratio compares the time spent in the same
 * scenario × mode cases (guest boot excluded, shown apart).
 */
import { type Mode, runConformance, spaprModes, type1Modes } from '@vfio-ts/conformance';
import { simSystem } from '@vfio-ts/conformance/sim';

export interface ConformanceSide {
  readonly ms: number;
  readonly cases: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

export interface GuestSide extends ConformanceSide {
  readonly arch: string;
  readonly kernel: string;
  readonly bootMs: number;
  readonly totalMs: number;
  /** The same cases (by name) on the simulator, for the ratio. */
  readonly simMsSameCases: number;
}

export interface ConformanceBenchResult {
  readonly sim: Record<'type1' | 'spapr', ConformanceSide & { readonly perCase: Record<string, number> }>;
  readonly guests: readonly GuestSide[];
  /** Why the guest half did not run (undefined when it did). */
  readonly guestSkipped?: string;
}

async function simSide(modes: readonly Mode[]) {
  const perCase: Record<string, number> = {};
  let last = performance.now();
  const t0 = last;
  const report = await runConformance({
    makeSystem: (mode) => simSystem(mode),
    modes,
    onResult: (r) => {
      const now = performance.now();
      perCase[`${r.mode} ${r.scenario}`] = now - last;
      last = now;
    },
  });
  const ms = performance.now() - t0;
  const c = report.counts;
  return { ms, cases: c.scenarios, passed: c.passed, failed: c.failed, skipped: c.skipped, perCase };
}

export async function benchConformance(): Promise<ConformanceBenchResult> {
  // Warm-up (module loading, JIT) so the measured pass is the suite, not start-up.
  await simSide(type1Modes);
  const sim = { type1: await simSide(type1Modes), spapr: await simSide(spaprModes) };
  if (process.env.VFIO_TS_QEMU !== '1')
    return {
      sim,
      guests: [],
      guestSkipped:
        'guest half not run: set VFIO_TS_QEMU=1 (boots the x86_64 and ppc64le guests, several minutes under TCG; one QEMU at a time on shared machines)',
    };
  const { runKernelTests, kernelTestModules, kernelTestDevices } = await import('@vfio-ts/testbed');
  // The differential module runs each scenario on the kernel and replays it on the in-guest simulator; its case time
  // is both, which the kernel side (syscalls under TCG) dominates.
  const module = kernelTestModules.find((m) => m.name === 'conformance-differential');
  if (module === undefined)
    return { sim, guests: [], guestSkipped: 'the testbed registers no conformance-differential module' };
  const guests: GuestSide[] = [];
  for (const arch of ['x86_64', 'ppc64le'] as const) {
    const run = await runKernelTests({ arch, modules: [module], devices: kernelTestDevices });
    const tests = run.results.suites.flatMap((s) => s.tests).filter((t) => !t.name.includes(' summary: '));
    const ran = tests.filter((t) => t.status === 'passed' || t.status === 'failed');
    const side = arch === 'x86_64' ? sim.type1 : sim.spapr;
    guests.push({
      arch,
      kernel: run.results.kernel,
      ms: ran.reduce((a, t) => a + (t.durationMs ?? 0), 0),
      cases: tests.length,
      passed: tests.filter((t) => t.status === 'passed').length,
      failed: tests.filter((t) => t.status === 'failed').length,
      skipped: tests.filter((t) => t.status === 'skipped').length,
      bootMs: run.timings.bootMs,
      totalMs: run.timings.totalMs,
      simMsSameCases: ran.reduce((a, t) => a + (side.perCase[t.name] ?? 0), 0),
    });
  }
  return { sim, guests };
}
