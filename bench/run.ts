// SPDX-License-Identifier: MIT
/**
 * npm run bench: every benchmark of the project in one process, each figure a ratio against a baseline measured in
 * the same run. Results go to bench/results/latest.json and bench/results/latest.md (the README quotes the latter).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchIoctl } from '../packages/backend-koffi/bench/ioctl.js';
import { benchCodecs } from '../packages/uapi/bench/codecs.js';
import { benchCodegen } from './codegen.js';
import { benchConformance } from './conformance.js';
import { benchSimVsKoffi } from './sim.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fmt = (n: number | undefined, digits = 1) => (n === undefined ? 'n/a' : n.toFixed(digits));

async function main(): Promise<void> {
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
  };
  const md: string[] = [
    `Measured ${machine.date.slice(0, 10)} on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}.`,
    '',
  ];
  const results: Record<string, unknown> = { machine };

  console.log('bench: uapi codecs');
  const codecs = await benchCodecs('x86_64');
  results.codecs = codecs;
  md.push(
    '| codec | generated ns | hand-written DataView ns | koffi marshalling ns | generated / hand-written | koffi / generated |',
  );
  md.push('|---|---:|---:|---:|---:|---:|');
  for (const r of codecs.rows) {
    md.push(
      `| ${r.struct} ${r.op} | ${fmt(r.generated.nsPerOp)} | ${fmt(r.handWritten.nsPerOp)} | ${fmt(r.koffi.nsPerOp)} | ${fmt(r.ratioToHandWritten, 2)}× | ${fmt(r.koffiRatio, 2)}× |`,
    );
  }
  md.push('');

  console.log('bench: koffi ioctl');
  const ioctl = await benchIoctl();
  results.koffiIoctl = ioctl;
  md.push('| ioctl (FIONREAD on a pipe) | ns per call | ratio to C |');
  md.push('|---|---:|---:|');
  md.push(`| C loop (compiled at bench time) | ${fmt(ioctl.cIoctl?.nsPerCall)} | 1.00× |`);
  md.push(
    `| koffi raw call | ${fmt(ioctl.rawIoctl.nsPerCall)} | ${ioctl.cIoctl ? fmt(ioctl.rawIoctl.nsPerCall / ioctl.cIoctl.nsPerCall, 2) : 'n/a'}× |`,
  );
  md.push(`| Backend.ioctl (koffi backend) | ${fmt(ioctl.backendIoctl.nsPerCall)} | ${fmt(ioctl.ratioToC, 2)}× |`);
  md.push(`| koffi call overhead (abs) | ${fmt(ioctl.koffiCall.nsPerCall)} | |`);
  if (ioctl.cSkipped) md.push(`\nC baseline skipped: ${ioctl.cSkipped}`);
  md.push('');

  console.log('bench: codegen');
  const codegen = await benchCodegen();
  results.codegen = codegen;
  md.push('| generator | ms | ratio |');
  md.push('|---|---:|---:|');
  md.push(`| parse vfio.h (web-tree-sitter) | ${fmt(codegen.parseMs)} | 1.00× |`);
  md.push(
    `| full regeneration from the header (extract, resolve, emit, format) | ${fmt(codegen.regenerateMs)} | ${fmt(codegen.regenerateMs / codegen.parseMs, 1)}× |`,
  );
  md.push('');

  console.log('bench: simulator vs koffi, sPAPR bulk');
  const sim = await benchSimVsKoffi(ioctl);
  results.sim = sim;
  md.push('| simulator ioctl (x86_64-q35, through the Backend) | ns per call | ratio to koffi FIONREAD |');
  md.push('|---|---:|---:|');
  for (const r of sim.sim.rows) {
    const ratio = sim.koffiNsPerIoctl === undefined ? 'n/a' : `${fmt(r.nsPerCall / sim.koffiNsPerIoctl, 2)}×`;
    md.push(`| ${r.name} | ${fmt(r.nsPerCall)} | ${ratio} |`);
  }
  md.push(`| koffi Backend.ioctl FIONREAD on a pipe (baseline) | ${fmt(sim.koffiNsPerIoctl)} | 1.00× |`);
  md.push('');
  const sp = sim.spapr;
  md.push('| sPAPR TCE (powernv9, 64K IOMMU pages) | value |');
  md.push('|---|---:|');
  md.push(
    `| TCE entries mapped per second (MAP_DMA of 1024 entries each) | ${sp.mapEntriesPerSecond.toLocaleString('en')} |`,
  );
  md.push(`| heap for an empty 1 TiB window (2 levels) | ${(sp.emptyWindowHeapBytes / 1024).toFixed(0)} KiB |`);
  md.push(
    `| heap for 1 GiB mapped into it (16384 TCEs, ${sp.allocatedLevels} indirect levels of 2048) | ${(sp.mapped1GiBHeapBytes / 1024).toFixed(0)} KiB |`,
  );
  md.push(`| exact heap figures (--expose-gc) | ${sp.gcExposed ? 'yes' : 'no: run through npm run bench'} |`);
  md.push('');

  console.log('bench: conformance suite, simulator vs guests');
  const conf = await benchConformance();
  results.conformance = conf;
  md.push('| conformance suite | cases (passed/failed/skipped) | ms | ratio |');
  md.push('|---|---:|---:|---:|');
  for (const [family, s] of Object.entries(conf.sim))
    md.push(
      `| simulator, ${family} modes | ${s.cases} (${s.passed}/${s.failed}/${s.skipped}) | ${fmt(s.ms)} | 1.00× |`,
    );
  for (const g of conf.guests) {
    md.push(
      `| ${g.arch} guest (${g.kernel}), same cases | ${g.cases} (${g.passed}/${g.failed}/${g.skipped}) | ${fmt(g.ms)} (boot ${fmt(g.bootMs / 1000)} s, total ${fmt(g.totalMs / 1000)} s) | ${g.simMsSameCases > 0 ? `${fmt(g.ms / g.simMsSameCases, 0)}× the simulator` : 'n/a'} |`,
    );
  }
  if (conf.guestSkipped !== undefined) md.push(`\n${conf.guestSkipped}`);
  md.push('');

  const outDir = join(root, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, 'latest.json'),
    `${JSON.stringify(results, (_, v) => (typeof v === 'bigint' ? String(v) : v), 2)}\n`,
  );
  writeFileSync(join(outDir, 'latest.md'), `${md.join('\n')}\n`);
  console.log(`\n${md.join('\n')}\nwritten to bench/results/latest.json and bench/results/latest.md`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
