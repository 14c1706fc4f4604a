#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * vfio-ts-testbed: provision guests, run the project's real-kernel tests, or run any entry in a guest.
 *
 *   cli.ts test-kernel [--guest x86_64,ppc64le,x86_64-6.12] [--filter TEXT] [--keep] [--verbose]
 *   cli.ts provision [--guest …]
 *   cli.ts run --guest GUEST [--keep] [--verbose] ENTRY [ARGS…]
 *
 * `--arch` is the older spelling of `--guest` and takes the same names (`--arch x86_64` is the 6.1 guest).
 */
import { parseArgs } from 'node:util';
import { type GuestName, guestNames, guests, parseGuestList } from './guests.js';
import { runKernelTests } from './kernel-run.js';
import {
  type KernelTestModule,
  kernelTestDevices,
  kernelTestModules,
  planBoots,
  planGuestModules,
} from './kernel-tests.js';
import { provision } from './provision.js';
import { summarize } from './results.js';
import { runInGuest } from './run.js';

const usage = `usage: cli.ts test-kernel [--guest ${guestNames.join(',')}] [--filter MODULE|TEXT] [--keep] [--verbose]
       cli.ts provision [--guest ${guestNames.join(',')}]
       cli.ts run --guest GUEST [--keep] [--verbose] ENTRY [ARGS...]
(--arch is the same as --guest; an architecture's name is its first guest)`;

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function testKernel(
  selected: GuestName[],
  filter: string | undefined,
  keep: boolean,
  verbose: boolean,
): Promise<number> {
  let bad = 0;
  let cases = 0;
  const started = Date.now();
  const notRunLines: string[] = [];
  for (const guest of selected) {
    const plan = planGuestModules(kernelTestModules, guest, filter);
    for (const { module, reason } of plan.notRun) {
      const line = `${guest}: ${module.name} not run (${reason})`;
      console.log(`== ${line}`);
      notRunLines.push(line);
    }
    if (plan.run.length === 0) {
      console.log(`== ${guest}: not booted: no selected module runs in this guest`);
      continue;
    }
    for (const boot of planBoots(plan.run)) {
      const outcome = await bootAndReport(guest, boot, plan.caseFilter, keep, verbose);
      bad += outcome.problems;
      cases += outcome.cases;
    }
  }
  for (const line of notRunLines) console.log(`== not run: ${line}`);
  // A selection that ran no case at all proves nothing: say so and fail.
  if (bad === 0 && cases === 0) {
    console.log(`== test-kernel ran no case${filter !== undefined ? ` (--filter '${filter}')` : ''}`);
    bad = 1;
  }
  console.log(`== test-kernel ${bad === 0 ? 'passed' : 'FAILED'} in ${seconds(Date.now() - started)}`);
  return bad === 0 ? 0 : 1;
}

/**
 * Runs one boot and prints it; returns the number of problems (failed or interrupted cases, or a guest error) and
 * of cases the guest listed.
 */
async function bootAndReport(
  guest: GuestName,
  modules: readonly KernelTestModule[],
  filter: string | undefined,
  keep: boolean,
  verbose: boolean,
): Promise<{ problems: number; cases: number }> {
  console.log(`== ${guest} (${guests[guest].description}): booting with ${modules.map((m) => m.name).join(', ')}`);
  const mode = modules.find((m) => m.devVfioMode !== undefined)?.devVfioMode;
  try {
    const run = await runKernelTests({
      guest,
      modules,
      devices: kernelTestDevices,
      keepRunDir: keep,
      log: (l) => console.log(`   ${l}`),
      ...(mode !== undefined ? { devVfioMode: mode } : {}),
      ...(filter !== undefined ? { filter } : {}),
      ...(verbose ? { onConsole: (s: string) => process.stdout.write(s) } : {}),
    });
    const { iommu } = run;
    const image = provision({ guest });
    const rebuilt = image.rebuilt
      ? ` (${image.rebuilt.modules.join(', ')} rebuilt with ${Object.entries(image.rebuilt.config)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')})`
      : '';
    console.log(
      `   kernel ${run.kernelVersion}${rebuilt}; IOMMU ${iommu.hardware} with ${iommu.vfioDriver}, ${iommu.groups} groups; node ${run.nodeVersion}; backend ${run.results.backend}`,
    );
    console.log(`   devices: ${run.devices.map((d) => `${d.model} ${d.bdf} group ${d.group}`).join(', ') || 'none'}`);
    for (const u of run.guest.unbound) console.log(`   NOT BOUND: ${u}`);
    for (const c of run.bootCrashes) console.log(`   BOOTED AGAIN: the kernel crashed before the tests: ${c}`);
    for (const suite of run.results.suites) {
      for (const t of suite.tests) {
        const mark = { passed: 'ok  ', failed: 'FAIL', skipped: 'skip', running: 'DIED' }[t.status];
        const why = t.error
          ? `: ${t.error.message}`
          : t.reason
            ? ` (${t.reason})`
            : t.status === 'running'
              ? ': the guest stopped during this case'
              : '';
        console.log(
          `   ${mark} ${suite.name}/${t.name}${t.durationMs !== undefined ? ` ${t.durationMs} ms` : ''}${why}`,
        );
        for (const line of t.log ?? []) console.log(`        ${line}`);
      }
    }
    const s = summarize(run.results);
    const problems =
      s.failed + s.interrupted + (run.results.complete ? 0 : 1) + (run.exitCode !== 0 && s.failed === 0 ? 1 : 0);
    console.log(
      `   ${guest}: passed ${s.passed}, failed ${s.failed}, skipped ${s.skipped}${s.interrupted ? `, interrupted ${s.interrupted}` : ''}` +
        `${run.results.complete ? '' : ' (results incomplete)'}; entry exit ${run.exitCode}` +
        ` — boot ${seconds(run.timings.bootMs)}, tests ${seconds(run.timings.entryMs)}, total ${seconds(run.timings.totalMs)}`,
    );
    if (problems > 0) console.log(`   run directory kept: ${run.runDir}`);
    return { problems, cases: s.passed + s.failed + s.skipped + s.interrupted };
  } catch (error) {
    console.log(`   ${guest}: ERROR ${(error as Error).message}`);
    return { problems: 1, cases: 0 };
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      guest: { type: 'string' },
      arch: { type: 'string' },
      filter: { type: 'string' },
      keep: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
  });
  if (values.guest !== undefined && values.arch !== undefined)
    throw new Error(`give --guest or --arch, not both\n${usage}`);
  const named = values.guest ?? values.arch;
  const selected = parseGuestList(named);
  switch (command) {
    case 'test-kernel':
      return testKernel(selected, values.filter, values.keep === true, values.verbose === true);
    case 'provision':
      for (const guest of selected) {
        const t = Date.now();
        const image = provision({ guest, log: (l) => console.log(l) });
        console.log(
          `${guest}: ${image.kernelPackage}${image.rebuilt ? ` + rebuilt ${image.rebuilt.modules.join(', ')}` : ''}, node ${image.nodeVersion}, ready in ${seconds(Date.now() - t)}`,
        );
      }
      return 0;
    case 'run': {
      const [entry, ...args] = positionals;
      if (entry === undefined || named === undefined || selected.length !== 1) throw new Error(usage);
      const run = await runInGuest({
        guest: selected[0] as GuestName,
        entry,
        args,
        keepRunDir: values.keep === true,
        onConsole: (s) => process.stdout.write(s),
      });
      console.log(
        `\nkernel ${run.kernelVersion}; exit ${run.exitCode}; boot ${seconds(run.timings.bootMs)}, total ${seconds(run.timings.totalMs)}`,
      );
      if (run.results !== undefined) console.log(JSON.stringify(run.results, null, 2));
      return run.exitCode;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
