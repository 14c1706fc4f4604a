#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * vfio-ts-testbed: provision guests, run the project's real-kernel tests, or run any entry in a guest.
 *
 *   cli.ts test-kernel [--arch x86_64,ppc64le] [--filter TEXT] [--keep] [--verbose]
 *   cli.ts provision [--arch …]
 *   cli.ts run --arch ARCH [--keep] [--verbose] ENTRY [ARGS…]
 */
import { parseArgs } from 'node:util';
import { runKernelTests } from './kernel-run.js';
import { type KernelTestModule, kernelTestDevices, kernelTestModules, planBoots } from './kernel-tests.js';
import { type GuestArch, guestArches } from './paths.js';
import { provision } from './provision.js';
import { summarize } from './results.js';
import { runInGuest } from './run.js';

const usage = `usage: cli.ts test-kernel [--arch x86_64,ppc64le] [--filter MODULE|TEXT] [--keep] [--verbose]
       cli.ts provision [--arch x86_64,ppc64le]
       cli.ts run --arch ARCH [--keep] [--verbose] ENTRY [ARGS...]`;

function parseArches(value: string | undefined): GuestArch[] {
  if (value === undefined) return [...guestArches];
  const arches = value.split(',').map((a) => a.trim());
  for (const a of arches) {
    if (!(guestArches as readonly string[]).includes(a))
      throw new Error(`unknown guest arch '${a}' (have ${guestArches.join(', ')})`);
  }
  return arches as GuestArch[];
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function testKernel(
  arches: GuestArch[],
  filter: string | undefined,
  keep: boolean,
  verbose: boolean,
): Promise<number> {
  let bad = 0;
  const started = Date.now();
  for (const arch of arches) {
    const forArch = kernelTestModules.filter((m) => m.arches === undefined || m.arches.includes(arch));
    // A filter that names modules boots only those; otherwise it selects cases inside every module's boot.
    const named = filter === undefined ? [] : forArch.filter((m) => m.name.includes(filter));
    const modules = named.length > 0 ? named : forArch;
    for (const boot of planBoots(modules)) {
      bad += await bootAndReport(arch, boot, named.length > 0 ? undefined : filter, keep, verbose);
    }
  }
  console.log(`== test-kernel ${bad === 0 ? 'passed' : 'FAILED'} in ${seconds(Date.now() - started)}`);
  return bad === 0 ? 0 : 1;
}

/** Runs one boot and prints it; returns the number of problems (failed or interrupted cases, or a guest error). */
async function bootAndReport(
  arch: GuestArch,
  modules: readonly KernelTestModule[],
  filter: string | undefined,
  keep: boolean,
  verbose: boolean,
): Promise<number> {
  console.log(`== ${arch}: booting with ${modules.map((m) => m.name).join(', ')}`);
  const mode = modules.find((m) => m.devVfioMode !== undefined)?.devVfioMode;
  try {
    const run = await runKernelTests({
      arch,
      modules,
      devices: kernelTestDevices,
      keepRunDir: keep,
      log: (l) => console.log(`   ${l}`),
      ...(mode !== undefined ? { devVfioMode: mode } : {}),
      ...(filter !== undefined ? { filter } : {}),
      ...(verbose ? { onConsole: (s: string) => process.stdout.write(s) } : {}),
    });
    const { iommu } = run;
    console.log(
      `   kernel ${run.kernelVersion}; IOMMU ${iommu.hardware} with ${iommu.vfioDriver}, ${iommu.groups} groups; node ${run.nodeVersion}; backend ${run.results.backend}`,
    );
    console.log(`   devices: ${run.devices.map((d) => `${d.model} ${d.bdf} group ${d.group}`).join(', ') || 'none'}`);
    for (const u of run.guest.unbound) console.log(`   NOT BOUND: ${u}`);
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
      `   ${arch}: passed ${s.passed}, failed ${s.failed}, skipped ${s.skipped}${s.interrupted ? `, interrupted ${s.interrupted}` : ''}` +
        `${run.results.complete ? '' : ' (results incomplete)'}; entry exit ${run.exitCode}` +
        ` — boot ${seconds(run.timings.bootMs)}, tests ${seconds(run.timings.entryMs)}, total ${seconds(run.timings.totalMs)}`,
    );
    if (problems > 0) console.log(`   run directory kept: ${run.runDir}`);
    return problems;
  } catch (error) {
    console.log(`   ${arch}: ERROR ${(error as Error).message}`);
    return 1;
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      arch: { type: 'string' },
      filter: { type: 'string' },
      keep: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
  });
  const arches = parseArches(values.arch);
  switch (command) {
    case 'test-kernel':
      return testKernel(arches, values.filter, values.keep === true, values.verbose === true);
    case 'provision':
      for (const arch of arches) {
        const t = Date.now();
        const image = provision({ arch, log: (l) => console.log(l) });
        console.log(`${arch}: ${image.kernelPackage}, node ${image.nodeVersion}, ready in ${seconds(Date.now() - t)}`);
      }
      return 0;
    case 'run': {
      const [entry, ...args] = positionals;
      if (entry === undefined || values.arch === undefined || arches.length !== 1) throw new Error(usage);
      const run = await runInGuest({
        arch: arches[0] as GuestArch,
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
