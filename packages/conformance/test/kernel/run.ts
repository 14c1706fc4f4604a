// SPDX-License-Identifier: MIT
/**
 * Runs the differential conformance module alone in the testbed's guests, then replays every scenario on the host's
 * simulator and compares again with the real-kernel traces the guest wrote (normalised as in FORMAT.md "Traces").
 *
 *   npx tsx --conditions=@vfio-ts/source packages/conformance/test/kernel/run.ts [--guest x86_64,ppc64le,x86_64-6.12] [--filter TEXT]
 *
 * `--arch` is the older spelling of `--guest` (an architecture names its first guest); the default is every guest.
 *
 * `npm run test:kernel` runs the same module (registered as `conformance-differential`) among the others.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { guestArch, kernelTestDevices, parseGuestList, runKernelTests, summarize } from '@vfio-ts/testbed';
import { scenarios } from '../../src/cases/index.js';
import { knownDifferences } from '../../src/known-differences.js';
import { runScenario } from '../../src/runner.js';
import { simSystem } from '../../src/sim.js';
import { compareTraces, explain, type ScenarioResult } from '../../src/trace.js';
import { profileForGuest } from './conformance.js';

const { values } = parseArgs({
  options: { guest: { type: 'string' }, arch: { type: 'string' }, filter: { type: 'string' } },
});
const guests = parseGuestList(values.guest ?? values.arch);
const path = fileURLToPath(new URL('./conformance.ts', import.meta.url));

function find(dir: string, name: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory()) {
      const f = find(p, name);
      if (f) return f;
    }
  }
  return undefined;
}

let bad = 0;
for (const guest of guests) {
  // The module names its traces file after the ABI it spoke; the replay picks the profile by kernel version.
  const arch = guestArch(guest);
  console.log(`== ${guest}: conformance-differential`);
  const run = await runKernelTests({
    guest,
    modules: [{ name: 'conformance-differential', path }],
    devices: kernelTestDevices,
    keepRunDir: true,
    log: (l) => console.log(`   ${l}`),
    ...(values.filter !== undefined ? { filter: values.filter } : {}),
  });
  for (const suite of run.results.suites) {
    for (const t of suite.tests) {
      if (t.status === 'failed' || t.status === 'running')
        console.log(`   ${t.status.toUpperCase()} ${t.name}: ${t.error?.message ?? 'guest died here'}`);
    }
  }
  const s = summarize(run.results);
  console.log(
    `   guest cases: passed ${s.passed}, failed ${s.failed}, skipped ${s.skipped}, interrupted ${s.interrupted}`,
  );
  const file = existsSync(run.runDir) ? find(run.runDir, `conformance-${arch}.json`) : undefined;
  if (file === undefined) {
    console.log(`   no traces file in ${run.runDir}`);
    bad++;
    continue;
  }
  const traces = JSON.parse(readFileSync(file, 'utf8')) as {
    kernel: string;
    summary: string;
    outcomes: { kernel: ScenarioResult }[];
  };
  console.log(`   guest: ${traces.summary} (kernel ${traces.kernel})`);
  // Host replay: the same scenarios on this machine's simulator against the guest's real-kernel traces.
  let replayed = 0;
  let differences = 0;
  let explained = 0;
  const version = (() => {
    const [a = 0, b = 0] = traces.kernel.split('.').map((x) => Number.parseInt(x, 10));
    return a * 100 + b;
  })();
  for (const { kernel } of traces.outcomes) {
    if (kernel.status === 'skipped') continue;
    const scenario = scenarios.find((x) => x.name === kernel.scenario);
    if (scenario === undefined) continue;
    const sim = await runScenario(
      scenario,
      kernel.mode,
      simSystem(kernel.mode, { profile: profileForGuest(arch, version) }),
    );
    replayed++;
    for (const d of compareTraces(kernel, sim)) {
      const k = explain(d, knownDifferences);
      if (k) explained++;
      else {
        differences++;
        console.log(`   DIFF ${d.mode} ${d.scenario} step ${d.step} ${d.what}: kernel ${d.kernel}, sim ${d.sim}`);
      }
    }
  }
  const skippedReasons = new Map<string, number>();
  for (const { kernel } of traces.outcomes) {
    if (kernel.status === 'skipped')
      skippedReasons.set(kernel.reason ?? '', (skippedReasons.get(kernel.reason ?? '') ?? 0) + 1);
  }
  for (const [reason, n] of skippedReasons) console.log(`   skipped ${n}: ${reason}`);
  console.log(
    `   host replay: ${replayed} scenarios replayed, differences ${differences} unexplained / ${explained} explained`,
  );
  bad += s.failed + s.interrupted + differences;
}
process.exitCode = bad === 0 ? 0 : 1;
