// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { expectErrno, expectOk, ioctl, locked, map, mmap, pages, withIommu } from '../src/helpers.js';
import { runConformance } from '../src/run-conformance.js';
import { runScenario } from '../src/runner.js';
import { simSystem } from '../src/sim.js';
import { compareTraces, explain } from '../src/trace.js';
import type { Scenario } from '../src/types.js';

const wrongErrno: Scenario = {
  name: 'test: wrong errno',
  modes: ['type1v2'],
  source: 'test',
  steps: [...withIommu(), expectErrno('EBUSY', ioctl('C', 'VFIO_SET_IOMMU', { int: 3 }))],
};

const mapped: Scenario = {
  name: 'test: map',
  modes: ['type1v2'],
  source: 'test',
  steps: [...withIommu(), mmap('B', pages(1)), expectOk(map('C', 0x100000n, pages(1))), locked(pages(1))],
};

describe('runner', () => {
  it('fails a scenario whose errno differs and names the step', async () => {
    const r = await runScenario(wrongErrno, 'type1v2', simSystem('type1v2'));
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/step 4: expected EBUSY, got EINVAL/);
    expect(r.trace.at(-1)?.errno).toBe('EINVAL');
  });

  it('fails a wrong locked-memory expectation', async () => {
    const s: Scenario = { ...mapped, steps: [...mapped.steps.slice(0, -1), locked(pages(2))] };
    const r = await runScenario(s, 'type1v2', simSystem('type1v2'));
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/locked memory changed by 4096 bytes, want 8192/);
  });

  it('records argument bytes with user addresses and fds masked', async () => {
    const r = await runScenario(mapped, 'type1v2', simSystem('type1v2'));
    expect(r.status).toBe('passed');
    const set = r.trace.find((e) => e.ioctl === 'VFIO_GROUP_SET_CONTAINER');
    expect(set?.argIn).toBe('........');
    expect(set?.refs).toEqual(['fd=C']);
    const m = r.trace.find((e) => e.ioctl === 'VFIO_IOMMU_MAP_DMA');
    expect(m?.refs).toEqual(['vaddr=B+0x0']);
    // argsz 32, flags 3, vaddr masked, iova 0x100000, size 0x1000 (little-endian).
    expect(m?.argIn).toBe(`2000000003000000${'..'.repeat(8)}00001000000000000010000000000000`);
  });

  it('skips scenarios whose needs the system lacks, and hazards on real kernels', async () => {
    const sys = simSystem('spapr-v2');
    const r = await runScenario({ ...mapped, modes: ['spapr-v2'], needs: { groups: 2 } }, 'spapr-v2', sys);
    expect(r).toMatchObject({ status: 'skipped', reason: 'needs 2 IOMMU groups, the system has 1' });
    const k = await runScenario({ ...mapped, realKernelHazard: 'oops' }, 'type1v2', {
      ...simSystem('type1v2'),
      target: 'kernel',
    });
    expect(k).toMatchObject({ status: 'skipped', reason: 'skipped on a real kernel: oops' });
  });
});

describe('compareTraces', () => {
  it('finds no difference between two simulator runs of the same scenario', async () => {
    const a = await runScenario(mapped, 'type1v2', simSystem('type1v2'));
    const b = await runScenario(mapped, 'type1v2', simSystem('type1v2'));
    expect(compareTraces(a, b)).toEqual([]);
  });

  it('reports a different errno, return and written-back bytes, and known differences are explained', async () => {
    const a = await runScenario(mapped, 'type1v2', simSystem('type1v2'));
    const b = await runScenario(mapped, 'type1v2', simSystem('type1v2', { profile: 'x86_64-q35-6.12' }));
    expect(compareTraces(a, b)).toEqual([]);
    const edited = {
      ...b,
      trace: b.trace.map((e) => (e.ioctl === 'VFIO_IOMMU_MAP_DMA' ? { ...e, ret: undefined, errno: 'ENOMEM' } : e)),
    };
    const diffs = compareTraces(a, edited);
    expect(diffs.map((d) => d.what)).toEqual(['VFIO_IOMMU_MAP_DMA ret', 'VFIO_IOMMU_MAP_DMA errno']);
    expect(explain(diffs[1]!, [{ scenario: /map/, what: /errno/, reason: 'x' }])?.reason).toBe('x');
    const failed = await runScenario(wrongErrno, 'type1v2', simSystem('type1v2'));
    const ok = { ...failed, status: 'passed' as const, error: undefined };
    expect(compareTraces(ok, failed)[0]).toMatchObject({ step: 'status' });
  });

  it('reports a trace that stops early', async () => {
    const a = await runScenario(mapped, 'type1v2', simSystem('type1v2'));
    const short = { ...a, trace: a.trace.slice(0, 3) };
    expect(compareTraces(a, short)).toHaveLength(1);
  });
});

describe('runConformance', () => {
  it('returns structured results with counts and skip reasons', async () => {
    const seen: string[] = [];
    const report = await runConformance({
      modes: ['spapr-v2'],
      filter: 'container/spapr-register-memory',
      makeSystem: (mode) => simSystem(mode),
      onResult: (r) => seen.push(r.scenario),
    });
    expect(report.counts.scenarios).toBe(report.results.length);
    expect(report.counts.scenarios).toBeGreaterThan(10);
    expect(report.counts.failed).toBe(0);
    expect(report.counts.passed + report.counts.skipped).toBe(report.counts.scenarios);
    expect(report.skipReasons['needs 2 IOMMU groups, the system has 1']).toBe(1);
    expect(seen).toHaveLength(report.results.length);
    expect(report.results.every((r) => r.scenario.includes('spapr-register-memory') && r.mode === 'spapr-v2')).toBe(
      true,
    );
  });
});
