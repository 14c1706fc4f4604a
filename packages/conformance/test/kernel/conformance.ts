// SPDX-License-Identifier: MIT
/**
 * The conformance suite on real kernels, registered with the testbed (packages/testbed/src/kernel-tests.ts) and
 * run by `npm run test:kernel` in each guest: every scenario of the guest's IOMMU modes runs on the real kernel
 * (the koffi backend the testbed gives), then on @vfio-ts/backend-sim with the profile of that guest, and the two
 * traces are compared (differential testing). A case fails on an unmet expectation on the real kernel, or on a
 * trace difference not listed in src/known-differences.ts. Traces go to `conformance-<arch>.json` beside the
 * results file, for `src/cli.ts compare` to replay on the host.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import type { Backend } from '@vfio-ts/core';
// Types only: the testbed's runtime (esbuild, QEMU) must not be bundled into the guest entry.
import type { KernelTestCase, KernelTestContext, KernelTestSuite } from '@vfio-ts/testbed';
import { scenarios } from '../../src/cases/index.js';
import { knownDifferences } from '../../src/known-differences.js';
import { runScenario } from '../../src/runner.js';
import { simSystem } from '../../src/sim.js';
import { compareTraces, explain, type ScenarioResult, type TraceDifference } from '../../src/trace.js';
import type { ConformanceSystem, Mode } from '../../src/types.js';

/** The IOMMU modes each guest offers (x86_64 q35 + intel-iommu: type1; ppc64le pseries 6.12: sPAPR TCE). */
const guestModes: Record<string, readonly Mode[]> = {
  x86_64: ['type1v2', 'type1v1'],
  ppc64le: ['spapr-v2', 'spapr-v1'],
};

/** `major.minor` of the running kernel as a number (6.1 → 601). */
function kernelVersion(): number {
  const [major = 0, minor = 0] = release()
    .split('.')
    .map((x) => Number.parseInt(x, 10));
  return major * 100 + minor;
}

/**
 * The simulator profile of the guest this runs in: the x86 guest's kernel decides the type1 GET_INFO capability
 * padding (≈6.5), so a 6.12 guest is compared with the 6.12 profile.
 */
export function profileForGuest(arch: string, version = kernelVersion()): string {
  if (arch === 'x86_64') return version >= 605 ? 'x86_64-q35-6.12' : 'x86_64-q35';
  return 'ppc64le-pseries';
}

/**
 * What the testbed's guests are (real-kernel-testbed.md): facts scenarios read, never answers of calls. The
 * simulator's profiles describe the same machines (src/sim.ts simFacts).
 */
export function guestFacts(arch: string, version = kernelVersion()): Record<string, bigint | number> {
  if (arch === 'x86_64') return { kernel: version, type1InfoArgsz: version >= 605 ? 120 : 116 };
  // pseries: ibm,dma-window 1 GiB at 0; EEH off under TCG; DDW windows at QEMU's dma64_win_addr.
  return { kernel: version, tce32Size: 1n << 30n, powernv: 0, eeh: 0, ddwStart: 0x0800_0000_0000_0000n };
}

/** locked_vm of this process: VmLck in /proc/self/status (VFIO charges VmLck, never VmPin). */
function vmLck(): bigint {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmLck:'));
  const kb = line === undefined ? 0 : Number.parseInt(line.replace(/\D+/g, ''), 10);
  return BigInt(kb) * 1024n;
}

/** The real kernel as a conformance system: the guest's groups, edu's group first. */
export function kernelSystem(backend: Backend, ctx: KernelTestContext): ConformanceSystem {
  const byGroup = new Map<string, { path: string; devices: string[]; edu?: string }>();
  for (const d of ctx.devices) {
    const g = byGroup.get(d.groupPath) ?? { path: d.groupPath, devices: [] };
    g.devices.push(d.bdf);
    if (d.model === 'edu' && g.edu === undefined) g.edu = d.bdf;
    byGroup.set(d.groupPath, g);
  }
  const groups = [...byGroup.values()].sort((a, b) => Number(b.edu !== undefined) - Number(a.edu !== undefined));
  // Within a group, edu is device 0 (the simulator's profiles list it first too).
  for (const g of groups) g.devices.sort((a, b) => Number(b === g.edu) - Number(a === g.edu));
  const facts = guestFacts(ctx.arch);
  return {
    backend,
    target: 'kernel',
    groups,
    lockedVm: vmLck,
    // No setRlimitMemlock: the guest runs as root, CAP_IPC_LOCK hides every limit and cannot be dropped and regained
    // inside one process; those scenarios are skipped with that reason.
    eeh: facts.eeh === 1,
    facts,
  };
}

export interface DifferentialOutcome {
  readonly kernel: ScenarioResult;
  readonly sim: ScenarioResult;
  readonly unexplained: readonly TraceDifference[];
  readonly explained: readonly (TraceDifference & { reason: string })[];
}

const outcomes: DifferentialOutcome[] = [];

async function differential(
  scenario: (typeof scenarios)[number],
  mode: Mode,
  backend: Backend,
  ctx: KernelTestContext,
): Promise<DifferentialOutcome> {
  const real =
    ctx.target === 'kernel'
      ? kernelSystem(backend, ctx)
      : // On the host (npm test) the "real" side is itself a simulator: the plumbing is what is tested there.
        simSystem(mode, { profile: profileForGuest(backend.arch) });
  const kernel = await runScenario(scenario, mode, real);
  const sim = await runScenario(scenario, mode, simSystem(mode, { profile: profileForGuest(backend.arch) }));
  const diffs = kernel.status === 'skipped' ? [] : compareTraces(kernel, sim);
  const explained: (TraceDifference & { reason: string })[] = [];
  const unexplained: TraceDifference[] = [];
  for (const d of diffs) {
    const k = explain(d, knownDifferences);
    if (k) explained.push({ ...d, reason: k.reason });
    else unexplained.push(d);
  }
  return { kernel, sim, unexplained, explained };
}

function describeDiff(d: TraceDifference): string {
  return `step ${d.step} ${d.what}: kernel ${d.kernel}, sim ${d.sim}`;
}

function summaryLine(arch: string): string {
  const n = (f: (o: DifferentialOutcome) => boolean): number => outcomes.filter(f).length;
  const skipped = n((o) => o.kernel.status === 'skipped');
  return (
    `conformance ${arch}: scenarios ${outcomes.length}, passed ${n((o) => o.kernel.status === 'passed')}, ` +
    `failed ${n((o) => o.kernel.status === 'failed')}, skipped ${skipped}, ` +
    `differences ${outcomes.reduce((a, o) => a + o.unexplained.length, 0)} unexplained / ` +
    `${outcomes.reduce((a, o) => a + o.explained.length, 0)} explained`
  );
}

const cases: KernelTestCase[] = [];
for (const [arch, modes] of Object.entries(guestModes)) {
  for (const mode of modes) {
    for (const scenario of scenarios) {
      if (!scenario.modes.includes(mode)) continue;
      cases.push({
        name: `${mode} ${scenario.name}`,
        arches: [arch],
        // Hazardous scenarios are skipped inside, with their reason; the rest are quick.
        timeoutMs: 60_000,
        run: async (backend, ctx) => {
          const o = await differential(scenario, mode, backend, ctx);
          outcomes.push(o);
          if (o.kernel.status === 'skipped') ctx.skip(o.kernel.reason ?? 'skipped');
          for (const d of o.explained) ctx.log(`explained difference: ${describeDiff(d)} (${d.reason})`);
          if (o.kernel.status === 'failed') {
            const simSays =
              o.sim.status === 'failed' ? `; the simulator fails too: ${o.sim.error}` : '; the simulator passes';
            throw new Error(`real kernel: ${o.kernel.error}${simSays}`);
          }
          if (o.unexplained.length > 0) {
            throw new Error(`difference (simulator bug?): ${o.unexplained.map(describeDiff).join('; ')}`);
          }
        },
      });
    }
  }
  cases.push({
    name: `${arch} summary: counts and traces`,
    arches: [arch],
    run: (_backend, ctx) => {
      const line = summaryLine(arch);
      ctx.log(line);
      console.log(`[vfio-ts] ${line}`);
      const results = process.env.VFIO_TS_RESULTS;
      if (results !== undefined) {
        const file = join(dirname(results), `conformance-${arch}.json`);
        writeFileSync(
          file,
          JSON.stringify(
            { format: 'vfio-ts-conformance-traces/1', arch, kernel: release(), summary: line, outcomes },
            (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v),
          ),
        );
        ctx.log(`traces: ${file}`);
      }
      const bad = outcomes.filter((o) => o.kernel.status === 'failed' || o.unexplained.length > 0).length;
      if (bad > 0) throw new Error(`${line}; ${bad} scenario(s) failed or differ`);
    },
  });
}

/** The suite as `defineKernelTests` would build it (the same shape, without importing the testbed's runtime). */
export const conformance: KernelTestSuite = {
  kind: 'vfio-ts-kernel-tests',
  name: 'conformance',
  needsBackend: true,
  cases,
};
