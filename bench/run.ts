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
