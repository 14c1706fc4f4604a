// SPDX-License-Identifier: MIT
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ABI_NAMES, probeLayouts, resolveToolchain } from '../../src/probe/index.js';
import {
  fetchVendoredHeader,
  readManifest,
  VENDOR_ROOT,
  vendoredHeaderDir,
  verifyVendor,
} from '../../src/probe/vendor.js';
import { needAbi } from './toolchains.js';

const manifest = readManifest();

describe('spec/vendor', () => {
  test('every vendored file matches its sha256 in the manifest', () => {
    const result = verifyVendor();
    expect(result.problems).toEqual([]);
    expect(result.checked).toBe(manifest.headers.reduce((n, h) => n + Object.keys(h.files).length, 0));
    expect(manifest.headers.length).toBeGreaterThanOrEqual(3);
  });

  test('`current` is the newest version by dpkg ordering', () => {
    for (const h of manifest.headers) {
      if (h.version === manifest.current) continue;
      const newer = spawnSync('dpkg', ['--compare-versions', manifest.current, 'gt', h.version]).status === 0;
      expect(newer, `${manifest.current} > ${h.version}`).toBe(true);
    }
    expect(vendoredHeaderDir()).toBe(join(VENDOR_ROOT, `linux-${manifest.current}`));
  });

  test('verifyVendor notices a changed byte, an unlisted file and a stray directory', () => {
    const copy = mkdtempSync(join(tmpdir(), 'vfio-ts-vendor-test-'));
    try {
      cpSync(VENDOR_ROOT, copy, { recursive: true });
      const first = manifest.headers[0]!;
      appendFileSync(join(copy, first.dir, 'linux/vfio.h'), ' ');
      writeFileSync(join(copy, first.dir, 'linux/extra.h'), '');
      cpSync(join(copy, first.dir), join(copy, 'linux-0.0'), { recursive: true });
      const { ok, problems } = verifyVendor(copy);
      expect(ok).toBe(false);
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^${first.dir.replace(/[~+.]/g, '\\$&')}/linux/vfio.h: sha256 `)),
          `${first.dir}/linux/extra.h: on disk but not in the manifest`,
          'linux-0.0: directory not in the manifest',
        ]),
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  // If the closure missed a header, the compiler would quietly take the sysroot's (older) copy instead.
  describe.each(manifest.headers.map((h) => h.dir))('%s is self-contained', (dir) => {
    for (const abi of ABI_NAMES) {
      test(`on ${abi}: every linux/ and asm-generic/ header comes from the vendored dir`, async (ctx) => {
        needAbi(ctx, abi);
        const tc = await resolveToolchain(abi);
        const headerDir = join(VENDOR_ROOT, dir);
        const deps = execFileSync(tc.compiler, [...tc.args, '-M', '-I', headerDir, '-x', 'c', '-'], {
          input: '#include <linux/vfio.h>\n',
          encoding: 'utf8',
        })
          .replace(/\\\n/g, ' ')
          .split(/\s+/)
          .filter((p) => /\/(linux|asm-generic)\/[^/]+\.h$/.test(p));
        const outside = deps.filter((p) => !resolve(p).startsWith(headerDir + sep));
        expect(outside).toEqual([]);
        expect(deps.map((p) => relative(headerDir, resolve(p)))).toContain('linux/vfio.h');
        const layouts = await probeLayouts({
          headerDir,
          abis: [abi],
          structs: [],
          constants: [],
          ioctls: ['VFIO_GET_API_VERSION'],
          system: [],
        });
        expect(layouts[abi]!.ioctls.VFIO_GET_API_VERSION).toBe(abi.startsWith('ppc') ? 536886116 : 15204);
      });
    }
  });
});

describe('fetchVendoredHeader (network: set VFIO_TS_NETWORK=1)', () => {
  test('re-downloads the 6.1 header and matches the manifest', { timeout: 120_000 }, async (ctx) => {
    if (process.env.VFIO_TS_NETWORK !== '1') ctx.skip('needs deb.debian.org: set VFIO_TS_NETWORK=1');
    const h = manifest.headers.find((x) => x.version.startsWith('6.1.'))!;
    const result = await fetchVendoredHeader({ version: h.version });
    expect(result.mismatches).toEqual([]);
    expect(result.entry).toEqual(h);
  });
});
