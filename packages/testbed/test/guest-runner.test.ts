// SPDX-License-Identifier: MIT
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimKernel } from '@vfio-ts/backend-sim';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineGuestChecks, defineKernelTests, suitesOfModule } from '../src/define.js';
import { runGuestSuites } from '../src/guest-runner.js';
import { type KernelTestResults, summarize } from '../src/results.js';

let dir: string;
let resultsPath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfio-ts-runner-'));
  resultsPath = join(dir, 'results.json');
  writeFileSync(join(dir, 'guest-info.txt'), 'device=0000:00:01.0 1234:11e8 1\nkernel=6.1.0-test\nmachine=x86_64\n');
  process.env.VFIO_TS_GUEST_INFO = join(dir, 'guest-info.txt');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  delete process.env.VFIO_TS_GUEST_INFO;
});

const read = (): KernelTestResults => JSON.parse(readFileSync(resultsPath, 'utf8')) as KernelTestResults;
const sim = () => SimKernel.create('x86_64-q35').createProcess();

describe('runGuestSuites', () => {
  it('records passed, failed and skipped cases with reasons, and exits 1 on a failure', async () => {
    const seen: string[] = [];
    const suite = defineKernelTests('mixed', {
      passes: (backend, ctx) => {
        seen.push(`${backend.name} ${ctx.target} ${ctx.devices.map((d) => d.groupPath).join()}`);
      },
      fails: () => {
        throw Object.assign(new Error('boom'), { code: 'EBOOM' });
      },
      skips: (_b, ctx) => ctx.skip('not here'),
      'x86 only': {
        arches: ['ppc64le'],
        run: () => {
          throw new Error('ran on the wrong ABI');
        },
      },
      'sim only': { only: 'sim', run: () => {} },
    });
    const code = await runGuestSuites([{ name: 'm', exports: { suite } }], { createBackend: sim, resultsPath });
    expect(code).toBe(1);
    expect(seen).toEqual(['sim kernel /dev/vfio/1']);
    const results = read();
    expect(results.complete).toBe(true);
    expect(results.kernel).toBe('6.1.0-test');
    expect(summarize(results)).toEqual({ passed: 1, failed: 1, skipped: 2, interrupted: 0 });
    const tests = results.suites[0]?.tests ?? [];
    expect(tests.find((t) => t.name === 'fails')?.error).toMatchObject({ message: 'boom', code: 'EBOOM' });
    expect(tests.find((t) => t.name === 'skips')?.reason).toBe('not here');
    expect(tests.find((t) => t.name === 'x86 only')).toBeUndefined();
    expect(tests.find((t) => t.name === 'sim only')?.reason).toMatch(/simulator only/);
  });

  it('fails the cases that need a backend when it cannot be created, and still runs guest checks', async () => {
    const checks = defineGuestChecks('checks', { ok: () => {} });
    const suite = defineKernelTests('needs', { a: () => {} });
    const code = await runGuestSuites([{ name: 'm', exports: { checks, suite } }], {
      createBackend: () => {
        throw new Error('no koffi here');
      },
      resultsPath,
    });
    expect(code).toBe(1);
    const results = read();
    expect(results.backend).toBe('unavailable');
    expect(results.suites.map((s) => s.tests.map((t) => t.status))).toEqual([['passed'], ['failed']]);
    expect(results.suites[1]?.tests[0]?.error?.message).toMatch(/cannot create the backend: no koffi here/);
  });

  it('bounds a case that never settles', async () => {
    const suite = defineKernelTests('slow', { hangs: { timeoutMs: 50, run: () => new Promise(() => {}) } });
    expect(await runGuestSuites([{ name: 'm', exports: { suite } }], { createBackend: sim, resultsPath })).toBe(1);
    expect(read().suites[0]?.tests[0]?.error?.message).toMatch(/did not finish within 50 ms/);
  });

  it('filters by suite/case name', async () => {
    const suite = defineKernelTests('f', { alpha: () => {}, beta: () => {} });
    await runGuestSuites([{ name: 'm', exports: { suite } }], { createBackend: sim, resultsPath, filter: 'f/be' });
    expect(read().suites[0]?.tests.map((t) => t.name)).toEqual(['beta']);
  });
});

describe('suitesOfModule', () => {
  it('accepts a plain record of (backend) => Promise<void> cases as `cases` or default', () => {
    const cases = { one: async () => {}, two: async () => {} };
    expect(suitesOfModule('seq', { cases })[0]?.cases.map((c) => c.name)).toEqual(['one', 'two']);
    expect(suitesOfModule('seq', { default: cases })[0]?.name).toBe('seq');
  });

  it('prefers defineKernelTests exports and counts a suite exported twice once', () => {
    const suite = defineKernelTests('s', { a: () => {} });
    expect(suitesOfModule('m', { suite, default: suite, cases: { x: () => {} } })).toEqual([suite]);
  });

  it('finds nothing in a module without cases', () => {
    expect(suitesOfModule('m', { helper: 1 })).toEqual([]);
  });
});

describe('planBoots', () => {
  it('runs shared modules in one boot, in order, and each ownBoot module alone after them', async () => {
    const { planBoots } = await import('../src/kernel-tests.js');
    const m = (name: string, ownBoot?: boolean) => ({ name, path: `/${name}.ts`, ...(ownBoot ? { ownBoot } : {}) });
    const boots = planBoots([m('a'), m('poison', true), m('b'), m('limits', true)]);
    expect(boots.map((b) => b.map((x) => x.name))).toEqual([['a', 'b'], ['poison'], ['limits']]);
    expect(planBoots([m('only', true)]).map((b) => b.map((x) => x.name))).toEqual([['only']]);
  });
});
