// SPDX-License-Identifier: MIT
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleEntry } from '../src/bundle.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bundleEntry', () => {
  it('bundles TypeScript and workspace packages from source into one module node can run', async () => {
    const outfile = join(dir, 'a.mjs');
    await bundleEntry({
      entry: {
        contents:
          "import { ioctlNumber } from '@vfio-ts/uapi';\nconsole.log(ioctlNumber('VFIO_GET_API_VERSION', 'ppc64le'));",
        resolveDir: import.meta.dirname,
      },
      outfile,
    });
    const out = execFileSync(process.execPath, [outfile], { encoding: 'utf8' });
    const { ioctlNumber } = await import('@vfio-ts/uapi');
    expect(Number(out.trim())).toBe(ioctlNumber('VFIO_GET_API_VERSION', 'ppc64le'));
  });

  it('turns an unresolvable optional package into a clear error at load time, not a failed bundle', async () => {
    const outfile = join(dir, 'b.mjs');
    await bundleEntry({
      entry: {
        contents:
          "console.log('before');\nawait import('@vfio-ts/not-a-package').catch((e) => console.log(e.message));",
        resolveDir: import.meta.dirname,
      },
      outfile,
      optional: ['@vfio-ts/not-a-package'],
    });
    const out = execFileSync(process.execPath, [outfile], { encoding: 'utf8' });
    expect(out).toMatch(/^before\n@vfio-ts\/not-a-package could not be resolved when the guest entry was bundled/);
  });

  it('reports an unresolvable import that is not optional with the file and line', async () => {
    await expect(
      bundleEntry({
        entry: { contents: "import '@vfio-ts/not-a-package';", resolveDir: import.meta.dirname },
        outfile: join(dir, 'c.mjs'),
      }),
    ).rejects.toThrow(/cannot bundle the test entry:\n.*Could not resolve "@vfio-ts\/not-a-package"/);
  });
});
