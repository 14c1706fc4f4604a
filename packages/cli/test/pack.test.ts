// SPDX-License-Identifier: MIT
/**
 * What a user gets from npm: uapi, core, backend-sim and cli are compiled with tsc, packed with `npm pack`, installed
 * from the tarballs into an empty project (offline, from the npm cache), and used from there without the
 * `@vfio-ts/source` condition — an example maps memory and runs edu DMA on the simulator, and the `vfio-ts` bin
 * runs. publint and @arethetypeswrong/cli check each tarball.
 *
 * The packages are compiled into a staging copy, never into the shared tree's dist/, so a build elsewhere cannot race
 * this test. Compilation uses `--noCheck`: type errors are `npm run typecheck`'s and `npm run build`'s to report;
 * this test is about what the tarballs contain and whether they work.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../../..');
const bin = (name: string) => join(repo, 'node_modules/.bin', name);
const PACKED = ['uapi', 'core', 'backend-sim', 'cli'] as const;

let work: string;
let app: string;
const tarballs = new Map<string, string>();

async function sh(file: string, args: readonly string[], cwd: string, timeout = 120_000): Promise<string> {
  try {
    const { stdout } = await run(file, [...args], {
      cwd,
      timeout,
      maxBuffer: 64 << 20,
      env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_loglevel: 'error' },
    });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} (in ${cwd}) failed:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}

/** A copy of the package as npm would see it, with dist/ compiled into the copy. */
async function stage(name: (typeof PACKED)[number]): Promise<string> {
  const from = join(repo, 'packages', name);
  const to = join(work, 'stage', name);
  mkdirSync(to, { recursive: true });
  for (const entry of ['package.json', 'src', 'README.md', 'CHANGELOG.md', 'LICENSE']) {
    if (existsSync(join(from, entry))) cpSync(join(from, entry), join(to, entry), { recursive: true });
  }
  await sh(
    process.execPath,
    [
      join(repo, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(from, 'tsconfig.json'),
      '--noCheck',
      '--outDir',
      join(to, 'dist'),
    ],
    repo,
  );
  const out = await sh('npm', ['pack', '--json', '--pack-destination', join(work, 'tarballs')], to);
  const [info] = JSON.parse(out) as [{ filename: string; files: { path: string }[] }];
  tarballs.set(name, join(work, 'tarballs', info.filename));
  return to;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vfio-ts-pack-'));
  mkdirSync(join(work, 'tarballs'));
  await Promise.all(PACKED.map(stage));
  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'vfio-ts-pack-app', private: true, type: 'module' }));
  // Offline: everything but the tarballs must come from the npm cache (picocolors); koffi is an optional peer.
  await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', ...PACKED.map((p) => tarballs.get(p)!)], app);
}, 170_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the packed packages, installed from their tarballs', () => {
  test('each tarball holds dist (JS + .d.ts), src and its manifest, and no tests', async () => {
    for (const name of PACKED) {
      const listing = await sh('tar', ['-tzf', tarballs.get(name)!], work);
      const files = listing.split('\n').filter(Boolean);
      expect(files, name).toContain('package/package.json');
      expect(files, name).toContain('package/dist/index.js');
      expect(files, name).toContain('package/dist/index.d.ts');
      expect(files, name).toContain('package/src/index.ts');
      expect(
        files.some((f) => f.startsWith('package/test/')),
        name,
      ).toBe(false);
    }
  });

  test('an example maps memory and runs edu DMA on the simulator through @vfio-ts/core and @vfio-ts/backend-sim', async () => {
    writeFileSync(
      join(app, 'example.mjs'),
      `
import { Container, Edu, Group } from '@vfio-ts/core';
import { SimKernel } from '@vfio-ts/backend-sim';
import { lockedVm } from '@vfio-ts/backend-sim/testing';

const backend = SimKernel.create('x86_64-q35').createProcess();
const container = Container.open(backend);
const group = Group.open(backend, 1);
group.setContainer(container);
const iommu = container.setIommu('type1v2');
const edu = Edu.open(group.device('0000:00:01.0'));
const buffer = container.allocateDma(4096);
const iova = iommu.map(buffer);
const lockedWhileMapped = lockedVm(backend);
const text = new TextEncoder().encode('packed and installed');
buffer.bytes.set(text);
// RAM -> edu's buffer, then edu's buffer -> RAM right after the original bytes.
const ok = await edu.roundTrip(buffer, text.length);
const back = new TextDecoder().decode(buffer.bytes.subarray(text.length, 2 * text.length));
container.close();
group.close();
console.log(JSON.stringify({ iova: iova.toString(16), ok, back, lockedWhileMapped, lockedAfter: lockedVm(backend) }));
`,
    );
    const out = JSON.parse(await sh(process.execPath, ['example.mjs'], app));
    expect(out).toEqual({
      iova: expect.any(String),
      ok: true,
      back: 'packed and installed',
      lockedWhileMapped: 1,
      lockedAfter: 0,
    });
  });

  test('the vfio-ts bin runs the demo and inspect from node_modules/.bin', async () => {
    const demo = await sh(join(app, 'node_modules/.bin/vfio-ts'), ['demo'], app);
    expect(demo).toContain('simulated x86_64-q35');
    expect(demo).toContain('simulated ppc64le-pseries');
    expect(demo.match(/✓ \d+ bytes match/g)).toHaveLength(2);
    expect(demo.match(/back to the baseline/g)).toHaveLength(2);
    const report = JSON.parse(
      await sh(join(app, 'node_modules/.bin/vfio-ts'), ['inspect', '--sim', 'ppc64le-pseries', '--json'], app),
    );
    expect(report.groups[0].iommu.model).toBe('spapr-v2');
  });

  test('resolution takes dist, not src, and internals stay closed', async () => {
    const script = `
const core = import.meta.resolve('@vfio-ts/core');
let internal;
try { await import('@vfio-ts/core/internal/ioctl.js'); internal = 'open'; } catch (e) { internal = e.code; }
console.log(JSON.stringify({ core, internal }));`;
    writeFileSync(join(app, 'resolve.mjs'), script);
    const out = JSON.parse(await sh(process.execPath, ['resolve.mjs'], app));
    expect(out.core).toMatch(/node_modules\/@vfio-ts\/core\/dist\/index\.js$/);
    expect(out.internal).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  test('publint (strict) and @arethetypeswrong/cli (esm-only) pass on every tarball', async () => {
    await Promise.all(
      PACKED.map(async (name) => {
        const tgz = tarballs.get(name)!;
        const lint = await sh(bin('publint'), ['run', tgz, '--strict'], work);
        expect(lint, name).not.toMatch(/error|warning/i);
        // ESM only, by design: node10 and require() from CommonJS are out of scope (attw's esm-only profile, whose
        // exit status `sh` checks); every other problem, for node16-esm or bundler resolution, fails the test.
        const attw = await sh(bin('attw'), [tgz, '--profile', 'esm-only', '--format', 'json'], work);
        const problems = (JSON.parse(attw) as { analysis: { problems: { resolutionKind?: string }[] } }).analysis
          .problems;
        const relevant = problems.filter((p) => p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs');
        expect(relevant, name).toEqual([]);
      }),
    );
  });
});

test('the cli manifest points its bin at the compiled entry and keeps koffi optional', () => {
  const manifest = JSON.parse(readFileSync(join(repo, 'packages/cli/package.json'), 'utf8'));
  expect(manifest.bin).toEqual({ 'vfio-ts': './dist/main.js' });
  expect(manifest.dependencies['@vfio-ts/backend-koffi']).toBeUndefined();
  expect(manifest.peerDependenciesMeta['@vfio-ts/backend-koffi']).toEqual({ optional: true });
});
