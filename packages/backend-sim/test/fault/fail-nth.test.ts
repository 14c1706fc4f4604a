// SPDX-License-Identifier: MIT
/**
 * fail_nth sweeps (≙ the iommufd selftest's): for N = 1, 2, … make the Nth allocation / pin / accounting / table
 * allocation reached by a whole scenario fail, until the scenario completes without reaching N. For every N:
 *  - the call that failed reports the errno the kernel gives for that site (ENOMEM for allocations and
 *    accounting, ENOMEM/EFAULT for pins, ENODEV for the pseries firmware call), and nothing but VfioSystemError
 *    is thrown;
 *  - the kernel's invariants hold right after the failure (locked_vm by the type1 and sPAPR rules, no mapping or
 *    TCE pointing at freed memory), and the failed call changed locked_vm only where the kernel leaks (Q4);
 *  - the same call retried without the fault succeeds and the scenario runs to its end (a failure rolled back);
 *  - closing every fd returns locked_vm to what the kernel leaks, exit frees every page, and a new process can open
 *    every group and set an IOMMU again.
 */
import { isSystemError } from '@vfio-ts/core';
import { ioctlNumber, VFIO_SPAPR_TCE_v2_IOMMU, VFIO_TYPE1v2_IOMMU } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { SimKernel } from '../../src/index.js';
import { checkInvariants, failNth, livePages, lockedVm } from '../../src/testing/index.js';
import { liveTces, spaprCharges, spaprMemoryProblems } from '../fuzz/spapr-model.js';
import { type Ctx, type Scenario, spaprV1Scenario, spaprV2Scenario, type1Scenario } from './scenarios.js';

/** What the kernel returns when the site fails (drivers/vfio, mm/gup.c, arch/powerpc). */
const expectedErrno: Record<string, readonly string[]> = {
  kzalloc: ['ENOMEM'],
  mmap: ['ENOMEM'],
  account_locked_vm: ['ENOMEM'],
  // pin_user_pages: -ENOMEM from the allocator, -EFAULT when nothing could be pinned.
  pin_user_pages: ['ENOMEM', 'EFAULT'],
  iommu_map: ['ENOMEM'],
  iommu_table_alloc: ['ENOMEM'],
  // pseries enable_ddw failing: the window creation ends in ENODEV.
  rtas_create_pe_dma_window: ['ENODEV'],
};

/** Sites whose failure leaves a locked_vm charge behind (the TCE_CREATE charge leak, SPAPR-SCENARIOS Q4). */
const leakingSites = new Set(['iommu_table_alloc', 'rtas_create_pe_dma_window']);
/** Sites after whose failure the platform refuses the same request until reboot (pseries failed_ddw_pdn_list). */
const poisoningSites = new Set(['rtas_create_pe_dma_window']);

interface Outcome {
  n: number;
  site: string;
  step: string;
  code: string;
  leaked: number;
  retried: 'ok' | 'refused';
}

function problemsOf(kernel: SimKernel, leaks: Map<number, number>): string[] {
  const spapr = kernel.profile.type1 === undefined;
  const charges = spapr ? spaprCharges(kernel) : undefined;
  const problems = checkInvariants(kernel, (pid) => (charges?.get(pid) ?? 0) + (leaks.get(pid) ?? 0));
  if (spapr) problems.push(...spaprMemoryProblems(kernel).problems);
  return problems;
}

function sweep(scenario: Scenario): { outcomes: Outcome[]; sweeps: number; hitsAtEnd: number } {
  const outcomes: Outcome[] = [];
  for (let n = 1; ; n++) {
    if (n > 10_000) throw new Error('fail-nth sweep did not terminate');
    const kernel = SimKernel.create(scenario.profile);
    const be = kernel.createProcess({ capIpcLock: true });
    const ctx: Ctx = { kernel, be, fds: new Map(), mem: new Map(), vals: new Map() };
    const leaks = new Map<number, number>();
    const fault = failNth(kernel, n);
    const spapr = kernel.profile.type1 === undefined;
    /** Runs a step; whatever it charged beyond the rules (a failed window creation, Q4) is added to `leaks`. */
    const run = (i: number): unknown => {
      const before = lockedVm(be);
      const chargesBefore = spapr ? (spaprCharges(kernel).get(be.process.pid) ?? 0) : 0;
      try {
        scenario.steps[i]!.run(ctx);
        return undefined;
      } catch (e) {
        if (!isSystemError(e)) throw new Error(`N=${n} step "${scenario.steps[i]!.name}": ${String(e)}`);
        return e;
      } finally {
        // type1's charge is checked mapping by mapping (checkInvariants); sPAPR's against the model here.
        if (spapr) {
          const chargesAfter = spapr ? (spaprCharges(kernel).get(be.process.pid) ?? 0) : 0;
          const leaked = lockedVm(be) - before - (chargesAfter - chargesBefore);
          if (leaked !== 0) leaks.set(be.process.pid, (leaks.get(be.process.pid) ?? 0) + leaked);
        }
      }
    };
    let failedAt = -1;
    let code = '';
    for (let i = 0; i < scenario.steps.length; i++) {
      const e = run(i);
      if (e !== undefined) {
        failedAt = i;
        code = (e as { code: string }).code;
        break;
      }
    }
    fault.detach();
    const where = `${scenario.name}, N=${n}`;
    if (!fault.fired) {
      expect(failedAt, `${where}: a call failed without a fault`).toBe(-1);
      expect(problemsOf(kernel, leaks), where).toEqual([]);
      teardownToBaseline(ctx, leaks, where);
      return { outcomes, sweeps: n, hitsAtEnd: fault.hits.length };
    }
    const site = fault.hits[n - 1]!;
    expect(failedAt, `${where}: the fault at ${site} was swallowed (no call failed)`).toBeGreaterThanOrEqual(0);
    const step = scenario.steps[failedAt]!.name;
    expect(expectedErrno[site] ?? [], `${where}: ${step} failed at ${site} with ${code}`).toContain(code);
    if (!leakingSites.has(site)) expect(leaks.size, `${where}: ${step} leaked locked_vm`).toBe(0);
    const leakedByFault = leaks.get(be.process.pid) ?? 0;
    expect(problemsOf(kernel, leaks), `${where}: after the failure of ${step}`).toEqual([]);
    // Retry the failed call without the fault, then run the rest.
    let retried: Outcome['retried'] = 'ok';
    for (let i = failedAt; i < scenario.steps.length; i++) {
      const e = run(i);
      if (e !== undefined) {
        if (poisoningSites.has(site) && isSystemError(e, 'ENODEV') && i === failedAt) {
          retried = 'refused';
          break;
        }
        throw new Error(`${where}: retrying "${scenario.steps[i]!.name}" after the fault at ${site}: ${String(e)}`);
      }
      expect(problemsOf(kernel, leaks), `${where}: after retried ${scenario.steps[i]!.name}`).toEqual([]);
    }
    outcomes.push({ n, site, step, code, leaked: leakedByFault, retried });
    teardownToBaseline(ctx, leaks, where);
  }
}

function teardownToBaseline(ctx: Ctx, leaks: Map<number, number>, where: string): void {
  const { kernel, be } = ctx;
  for (const [fd] of [...be.process.fds.entries()].reverse()) be.close(fd);
  expect(be.process.fds.entries().next().done, `${where}: fds left`).toBe(true);
  expect(lockedVm(be), `${where}: locked_vm after closing every fd`).toBe(leaks.get(be.process.pid) ?? 0);
  expect(liveTces(kernel), `${where}: TCEs after closing every fd`).toBe(0);
  be.exit();
  expect(livePages(kernel), `${where}: pages alive after exit`).toBe(0);
  // Every group can be used again by a new process.
  const fresh = kernel.createProcess({ capIpcLock: true });
  for (const id of kernel.vfioGroups.keys()) {
    const container = fresh.open('/dev/vfio/vfio');
    const group = fresh.open(`/dev/vfio/${id}`);
    const arg = new Uint8Array(4);
    new DataView(arg.buffer).setInt32(0, container, fresh.littleEndian);
    fresh.ioctl(group, ioctlNumber('VFIO_GROUP_SET_CONTAINER', fresh.arch), arg);
    const type = kernel.profile.type1 === undefined ? VFIO_SPAPR_TCE_v2_IOMMU : VFIO_TYPE1v2_IOMMU;
    fresh.ioctl(container, ioctlNumber('VFIO_SET_IOMMU', fresh.arch), type);
  }
  fresh.exit();
  expect(livePages(kernel)).toBe(0);
  expect(checkInvariants(kernel)).toEqual([]);
}

const scenarios: Scenario[] = [
  type1Scenario(),
  spaprV2Scenario('ppc64le-powernv9'),
  spaprV2Scenario('ppc64le-pseries'),
  spaprV1Scenario('ppc64le-powernv9'),
  spaprV1Scenario('ppc64le-pseries'),
];

describe('fail_nth sweeps over whole scenarios', () => {
  for (const scenario of scenarios) {
    it(scenario.name, () => {
      const { outcomes, sweeps, hitsAtEnd } = sweep(scenario);
      const bySite = new Map<string, string[]>();
      for (const o of outcomes) {
        const k = `${o.site}→${o.code}${o.leaked ? ` (leaks ${o.leaked} pages, Q4)` : ''}${o.retried === 'refused' ? ' (retry refused until reboot)' : ''}`;
        bySite.set(k, [...(bySite.get(k) ?? []), o.step]);
      }
      console.log(
        `fail-nth ${scenario.name}: ${sweeps} runs (N=1..${sweeps}), ${hitsAtEnd} fault sites reached by the full scenario; ` +
          [...bySite].map(([k, steps]) => `${k}: ${[...new Set(steps)].join(', ')}`).join('; '),
      );
      // The sweep must have reached sites inside the scenario, or it tested nothing.
      expect(outcomes.length).toBe(hitsAtEnd);
      expect(outcomes.length).toBeGreaterThan(3);
    });
  }
});
