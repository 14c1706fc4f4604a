// SPDX-License-Identifier: MIT
/**
 * npm run codegen                 regenerate everything from the current vendored header and checked-in layouts
 * npm run codegen -- --check      fail when anything would change (CI)
 * npm run codegen -- --probe      re-probe the layouts with the cross compilers, then regenerate
 * npm run codegen -- --header P   take a new header: facts, probe, regenerate, print the API diff, write a changeset
 * npm run test:abi                install the compilers, re-probe every ABI of every vendored header, compare
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { apiDiff } from './diff.js';
import type { HeaderFacts } from './header/extract.js';
import type { AbiLayouts } from './layouts.js';
import {
  currentHeader,
  FACTS,
  factsOf,
  factsOfDir,
  generate,
  kernelVersionOf,
  LAYOUTS,
  probeHeader,
  ROOT,
  resolveWith,
  UAPI_GENERATED,
  vendoredHeaders,
} from './pipeline.js';
import { ARCHS } from './spec/model.js';
import { writeFiles } from './write.js';

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as T;
}

async function regenerate(options: { check: boolean; probe: boolean }): Promise<number> {
  const started = performance.now();
  const header = currentHeader();
  const facts = await factsOf(header);
  const layouts =
    options.probe || !existsSync(join(ROOT, LAYOUTS))
      ? await probeHeader(facts, header.includeDir)
      : readJson<AbiLayouts>(LAYOUTS);
  const spec = resolveWith(facts, layouts, header.kernelVersion);
  const result = writeFiles(ROOT, generate(facts, layouts, spec), [UAPI_GENERATED], options.check);
  const ms = Math.round(performance.now() - started);
  const summary = `${spec.ioctls.length} ioctls, ${spec.structs.length} structs, ${spec.constants.length} constants from linux-libc-dev ${header.version}`;
  if (options.check) {
    if (result.changed.length > 0 || result.stale.length > 0) {
      for (const f of result.changed) console.error(`codegen --check: ${f} would change`);
      for (const f of result.stale) console.error(`codegen --check: ${f} is generated but no longer produced`);
      console.error('Run `npm run codegen` and commit the result.');
      return 1;
    }
    console.log(`codegen --check: clean (${summary}, ${ms} ms)`);
    return 0;
  }
  for (const f of result.changed) console.log(`wrote ${f}`);
  for (const f of result.stale) console.log(`stale generated file (delete it): ${f}`);
  console.log(`codegen: ${result.changed.length} file(s) changed (${summary}, ${ms} ms)`);
  return 0;
}

async function takeHeader(path: string, kernelVersionOption: string | undefined): Promise<number> {
  const headerPath = resolve(path);
  if (basename(headerPath) !== 'vfio.h' || basename(dirname(headerPath)) !== 'linux') {
    console.error(
      `--header wants a path ending in linux/vfio.h inside an include directory (linux/iommufd.h is read beside it); got ${path}`,
    );
    return 2;
  }
  const includeDir = dirname(dirname(headerPath));
  const kernelVersion = kernelVersionOption ?? guessKernelVersion(includeDir);
  if (kernelVersion === undefined) {
    console.error('cannot tell the kernel version of that header from its directory name; pass --kernel-version X.Y');
    return 2;
  }
  const old = currentHeader();
  const before = resolveWith(readJson<HeaderFacts>(FACTS), readJson<AbiLayouts>(LAYOUTS), old.kernelVersion);
  const facts = await factsOfDir(includeDir, kernelVersion);
  const layouts = await probeHeader(facts, includeDir);
  const after = resolveWith(facts, layouts, kernelVersion);
  const result = writeFiles(ROOT, generate(facts, layouts, after), [UAPI_GENERATED], false);
  for (const f of result.changed) console.log(`wrote ${f}`);
  const diff = apiDiff(before, after);
  console.log(`\nAPI diff, linux-libc-dev ${old.version} -> ${relative(ROOT, headerPath)} (${kernelVersion}):`);
  console.log(diff.lines.length > 0 ? diff.lines.map((l) => `  ${l}`).join('\n') : '  (no change)');
  if (diff.lines.length > 0) {
    const changeset = join(ROOT, `.changeset/uapi-header-${kernelVersion.replace('.', '-')}.md`);
    writeFileSync(
      changeset,
      `---\n'@vfio-ts/uapi': ${diff.bump}\n---\n\nRegenerated from linux/vfio.h ${kernelVersion}:\n\n${diff.lines.map((l) => `    ${l}`).join('\n')}\n`,
    );
    console.log(
      `\nwrote ${relative(ROOT, changeset)} (${diff.bump}: ${diff.bump === 'major' ? 'a layout, number or name changed or went away' : diff.bump === 'minor' ? 'additions only' : 'no API change'})`,
    );
  }
  const vendored = vendoredHeaders().find((h) => h.includeDir === includeDir);
  if (vendored === undefined) {
    console.log(
      '\nThis header is not vendored: `npm run codegen -- --check` will report drift until it is added to spec/vendor/manifest.yaml as current.',
    );
  } else if (!vendored.current) {
    const manifestPath = join(ROOT, 'spec/vendor/manifest.yaml');
    const manifest = readFileSync(manifestPath, 'utf8').replace(/^current: .*$/m, `current: ${vendored.version}`);
    writeFileSync(manifestPath, manifest);
    console.log(`\nspec/vendor/manifest.yaml: current is now ${vendored.version}`);
  }
  return 0;
}

function guessKernelVersion(includeDir: string): string | undefined {
  const match = /linux-(\d+\.\d+)/.exec(includeDir);
  return match ? kernelVersionOf(match[1]!) : undefined;
}

/** Re-probes every vendored header on every ABI; the current one must match the checked-in layouts exactly. */
async function abiTest(options: { install: boolean }): Promise<number> {
  if (options.install) {
    const deps = spawnSync('bash', [join(ROOT, '.ci/abi-deps.sh')], { stdio: 'inherit' });
    if (deps.status !== 0) {
      console.error('test:abi: installing the cross compilers failed (.ci/abi-deps.sh)');
      return 1;
    }
  }
  let failures = 0;
  const checkedIn = readJson<AbiLayouts>(LAYOUTS);
  for (const header of vendoredHeaders()) {
    const started = performance.now();
    const facts = await factsOf(header);
    const layouts = await probeHeader(facts, header.includeDir);
    const spec = resolveWith(facts, layouts, header.kernelVersion);
    const files = generate(facts, layouts, spec);
    const ms = Math.round(performance.now() - started);
    console.log(
      `linux-libc-dev ${header.version} (${header.suite}): ${spec.ioctls.length} ioctls, ${spec.structs.length} structs, ${files.length} files generated in memory, ${ms} ms`,
    );
    if (!header.current) continue;
    for (const arch of ARCHS) {
      const { compared, mismatches } = compareLayouts(checkedIn[arch], layouts[arch]);
      failures += mismatches.length;
      console.log(`  ${arch.padEnd(8)} ${compared} values compared, ${mismatches.length} mismatches`);
      for (const m of mismatches.slice(0, 20)) console.log(`    ${m}`);
    }
  }
  console.log(failures === 0 ? 'test:abi: 0 mismatches' : `test:abi: ${failures} mismatches`);
  return failures === 0 ? 0 : 1;
}

function compareLayouts(expected: AbiLayouts[string] | undefined, actual: AbiLayouts[string] | undefined) {
  const mismatches: string[] = [];
  let compared = 0;
  if (expected === undefined || actual === undefined) return { compared, mismatches: ['ABI missing'] };
  const same = (what: string, a: unknown, b: unknown) => {
    compared++;
    if (a !== b) mismatches.push(`${what}: checked in ${String(a)}, compiler says ${String(b)}`);
  };
  same('littleEndian', expected.littleEndian, actual.littleEndian);
  same('pointerSize', expected.pointerSize, actual.pointerSize);
  for (const [name, s] of Object.entries(expected.structs)) {
    const t = actual.structs[name];
    same(`sizeof(struct ${name})`, s.size, t?.size);
    same(`alignof(struct ${name})`, s.align, t?.align);
    for (const [m, l] of Object.entries(s.members)) {
      same(`offsetof(${name}, ${m})`, l.offset, t?.members[m]?.offset);
      same(`sizeof(${name}.${m})`, l.size, t?.members[m]?.size);
    }
  }
  for (const [name, v] of Object.entries(expected.ioctls)) same(name, v, actual.ioctls[name]);
  for (const [name, v] of Object.entries(expected.constants)) same(name, v, actual.constants[name]);
  for (const [name, v] of Object.entries(expected.system)) same(name, v, actual.system[name]);
  return { compared, mismatches };
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      check: { type: 'boolean', default: false },
      probe: { type: 'boolean', default: false },
      header: { type: 'string' },
      'kernel-version': { type: 'string' },
      'no-install': { type: 'boolean', default: false },
    },
  });
  const command = positionals[0] ?? 'generate';
  switch (command) {
    case 'generate':
      if (values.header !== undefined) return takeHeader(values.header, values['kernel-version']);
      return regenerate({ check: values.check ?? false, probe: values.probe ?? false });
    case 'check':
      return regenerate({ check: true, probe: false });
    case 'abi-test':
      return abiTest({ install: !values['no-install'] });
    default:
      console.error(`unknown command ${command}; use generate (default), check or abi-test`);
      return 2;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
